import { connectedUsers } from '@purple/testing';
import { createClient, startHarness } from './support';
it('closes connected', async () => {
  const h = await startHarness();
  const c = await createClient(h.api, h.adminToken, { client_id: 'x1', subscription: '#' });
  await h.api.request('GET', '/receive', { token: c.token });
  const t = Date.now();
  await h.app.close();
  console.log('closed in', Date.now() - t);
  await new Promise((r) => setTimeout(r, 6000));
  console.log('connected', await connectedUsers(h.broker, '/soar'));
  await h.broker.dispose(); await h.db.drop();
  await new Promise((r) => setTimeout(r, 3000));
}, 60000);

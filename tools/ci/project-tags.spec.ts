import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../env';

/** The lint rule (eslint.config.mjs) constrains only tagged projects: an untagged one would escape it silently. */
describe('Nx project tags', () => {
  const projects = ['apps', 'libs'].flatMap((root) =>
    readdirSync(join(REPO_ROOT, root)).map((name) => ({
      path: `${root}/${name}`,
      tags: (JSON.parse(readFileSync(join(REPO_ROOT, root, name, 'project.json'), 'utf8')) as { tags?: string[] }).tags ?? [],
    })),
  );

  it.each(projects)('$path has one type and one scope tag', ({ path, tags }) => {
    expect(tags.filter((t) => t === (path.startsWith('apps/') ? 'type:app' : 'type:lib'))).toHaveLength(1);
    expect(tags.filter((t) => /^scope:(shared|bus|checking|edge)$/.test(t))).toHaveLength(1);
  });

  it('only the api joins the two systems', () => {
    expect(projects.filter((p) => p.tags.includes('scope:edge')).map((p) => p.path)).toEqual(['apps/api']);
  });
});

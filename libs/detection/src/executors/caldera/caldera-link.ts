import { CalderaFormatError, CalderaLink, calderaTimeOf, linkOutputOf, readLink } from '@purple/caldera';
import { ConnectorError } from '../../connectors/connector';
import { CommandResult } from '../output-rule';

/*
 * The executor's reading of Caldera's answers: the model is libs/caldera's; here a malformed answer becomes the
 * final ConnectorError the worker reports.
 */

/** A link from `POST …/potential-links` or `GET …/links/{id}`, or a final error naming what is wrong with it. */
export function requireLink(body: unknown, where: string): CalderaLink {
  const link = readLink(body);
  if ('problem' in link) throw malformed(`${where} ${link.problem}`);
  return link;
}

/** The link's finish time, when Caldera gave a readable one. */
export function finishTimeOf(link: CalderaLink): Date | undefined {
  const time = calderaTimeOf(link.finish);
  return time === undefined ? undefined : new Date(time);
}

/**
 * The command's result from `GET …/links/{id}/result` (`{"link": {…}, "result": "<base64>"}`). Without an exit
 * code the link's status stands in for it (0 success, else the status, 1 for an error).
 */
export function commandResultOf(result: unknown, link: CalderaLink): CommandResult {
  if (typeof result !== 'string') throw malformed('the link result has no result text');
  let output;
  try {
    output = linkOutputOf(result);
  } catch (error) {
    if (error instanceof CalderaFormatError) throw malformed(error.message);
    throw error;
  }
  return { exitCode: output?.exit_code ?? link.status, output: joinOutput(output?.stdout ?? '', output?.stderr ?? '') };
}

/** stdout, then stderr, each line whole. */
function joinOutput(stdout: string, stderr: string): string {
  if (stdout === '' || stderr === '') return stdout + stderr;
  return stdout.endsWith('\n') ? stdout + stderr : `${stdout}\n${stderr}`;
}

function malformed(what: string): ConnectorError {
  return new ConnectorError(`caldera returned a malformed response: ${what}`, false);
}

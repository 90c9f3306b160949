/** What the worker tells the result consumer about how a match is tied to its execution (issue 15). */
export interface MatchFactsSeen {
  marker?: string;
  markerFound: boolean;
  hostScoped: boolean;
}

const HOST_PLACEHOLDER = /\{\{\s*(host|paw)\s*\}\}/;

/**
 * - `markerFound`: the execution's marker is in what the source answered about its matches (the product's answer:
 *   events, alerts or rows; a host command's output). The products answer with the matches, not the query, so the
 *   marker there came from the telemetry.
 * - `hostScoped`: the query template names the execution's host (`{{host}}` or `{{paw}}`).
 */
export function matchFactsOf(template: string, marker: string | undefined, answer: string): MatchFactsSeen {
  return {
    ...(marker !== undefined && { marker }),
    // a marker of a few characters would be found by chance
    markerFound: marker !== undefined && marker.length >= 6 && answer.includes(marker),
    hostScoped: HOST_PLACEHOLDER.test(template),
  };
}

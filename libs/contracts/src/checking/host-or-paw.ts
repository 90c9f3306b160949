/** Whether a field holds non-blank text: an execution needs its agent's host or paw, and '' is neither. */
export function hasText(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** Whether a field was given a value to check (anything but absent, null or ''). */
export function isGiven(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

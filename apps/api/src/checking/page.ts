/** One page of a list, with the total and the window it was cut with. */
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

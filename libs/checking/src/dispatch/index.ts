// The dispatcher's use cases: a separate entry point, because they need @purple/detection (search windows,
// detection settings), which the other apps that use libs/checking must not load.
export * from './dispatch-settings';
export * from './task-message';
export * from './dispatch-pending-tasks.use-case';
export * from './expire-overdue-tasks.use-case';

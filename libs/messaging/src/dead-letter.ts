/** Header carrying why the app dead-lettered a message (RabbitMQ's own `x-death` only says "rejected"). */
export const REJECTION_REASON_HEADER = 'x-rejection-reason';

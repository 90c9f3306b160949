export const APP_ROLE = Symbol('APP_ROLE');

export * from "./blocks.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./profile.js";
export * from "./rest.js";
export * from "./runner-protocol.js";
export * from "./session.js";

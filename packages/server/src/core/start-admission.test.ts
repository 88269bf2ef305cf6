import { describe, expect, it } from "vitest";
import { StartAdmission } from "./start-admission.js";

describe("StartAdmission", () => {
  it("runs at most `limit` starts; the others wait in order and hear their positions", async () => {
    const admission = new StartAdmission(2);
    const positions: Record<string, number[]> = { c: [], d: [] };
    const a = await admission.admit("message", () => undefined);
    const b = await admission.admit("message", () => undefined);
    const order: string[] = [];
    const c = admission
      .admit("message", (p) => positions.c!.push(p))
      .then((release) => {
        order.push("c");
        return release;
      });
    const d = admission
      .admit("message", (p) => positions.d!.push(p))
      .then((release) => {
        order.push("d");
        return release;
      });
    await Promise.resolve();
    expect(admission.queued).toBe(2);
    a();
    a(); // a second call changes nothing
    (await c)();
    b();
    (await d)();
    expect(order).toEqual(["c", "d"]);
    expect(positions).toEqual({ c: [1], d: [2, 1] });
    expect(admission.queued).toBe(0);
  });

  it("lets a message start pass background starts that wait", async () => {
    const admission = new StartAdmission(1);
    const first = await admission.admit("message", () => undefined);
    const order: string[] = [];
    const note = (name: string) => (release: () => void) => {
      order.push(name);
      return release;
    };
    const background = admission.admit("background", () => undefined).then(note("background"));
    const message = admission.admit("message", () => undefined).then(note("message"));
    first();
    (await message)();
    (await background)();
    expect(order).toEqual(["message", "background"]);
  });

  it("refuses a limit below one", () => {
    expect(() => new StartAdmission(0)).toThrow(RangeError);
  });
});

import { PROMISE_LEAK_DEBUG_ENV, withoutPromiseStacks } from "../../lib/promiseStacks";

const frames = () => (new Error().stack ?? "").split("\n").filter((line) => line.trim().startsWith("at ")).length;

describe("withoutPromiseStacks", () => {
  test("captures no frames while declaring, and restores the limit after", () => {
    const before = Error.stackTraceLimit;
    expect(frames()).toBeGreaterThan(0);
    expect(withoutPromiseStacks(() => frames(), {})).toBe(0);
    expect(Error.stackTraceLimit).toBe(before);
  });

  test("restores the limit when declaring throws, and the error still carries its message", () => {
    const before = Error.stackTraceLimit;
    expect(() =>
      withoutPromiseStacks(() => {
        throw new Error("bad node");
      }, {}),
    ).toThrow("bad node");
    expect(Error.stackTraceLimit).toBe(before);
  });

  test("keeps stacks when the user debugs promise leaks (the only time the SDK prints them)", () => {
    expect(withoutPromiseStacks(() => frames(), { [PROMISE_LEAK_DEBUG_ENV]: "1" })).toBeGreaterThan(0);
  });
});

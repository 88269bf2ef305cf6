// @vitest-environment jsdom
import { type SessionSnapshot, SessionStore } from "@agent-runtime/client";
import type { Block } from "@agent-runtime/protocol";
import { act, cleanup, render } from "@testing-library/react";
import { createElement as h, memo } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { shallowEqualArrays, useStoreSelector } from "./use-store-selector.js";

const T = "2025-01-01T00:00:00.000Z";
const text = (id: string, content: string): Block => ({ type: "assistant_text", id, timestamp: T, content });

function loadedStore(): SessionStore {
  const store = new SessionStore("s");
  store.replace({
    sessionId: "s",
    agentProfileRef: "test",
    architecture: "claude-agent-sdk",
    sessionOptions: {},
    createdAt: T,
    updatedAt: T,
    lastSeq: 0,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 },
    runtime: { sandboxStatus: "running", busy: true, lastActivityAt: T },
    blocks: [text("a", "first"), text("b", "")],
    files: [],
    subagents: [],
  });
  return store;
}

/** Renders per component key, counted by the test. */
const renders: Record<string, number> = {};

const View = memo(function View({ store, id }: { store: SessionStore; id: string }) {
  renders[id] = (renders[id] ?? 0) + 1;
  const block = useStoreSelector(store, (s: SessionSnapshot) => s.blocksById[id]);
  return h("p", null, block && "content" in block ? block.content : "");
});

function List({ store }: { store: SessionStore }) {
  renders.list = (renders.list ?? 0) + 1;
  const ids = useStoreSelector(store, (s) => s.blocks.map((b) => b.id), shallowEqualArrays);
  return h(
    "div",
    null,
    ids.map((id) => h(View, { key: id, store, id })),
  );
}

afterEach(cleanup);

describe("useStoreSelector", () => {
  it("re-renders only the components whose selection changed", () => {
    const store = loadedStore();
    for (const key of Object.keys(renders)) delete renders[key];
    const { container } = render(h(List, { store }));
    expect(renders).toEqual({ list: 1, a: 1, b: 1 });

    act(() => {
      store.receive({
        type: "session:block:delta",
        blockId: "b",
        delta: "he",
        sessionId: "s",
        seq: 1,
        timestamp: T,
      });
      store.receive({
        type: "session:block:delta",
        blockId: "b",
        delta: "llo",
        sessionId: "s",
        seq: 2,
        timestamp: T,
      });
    });
    expect(container.textContent).toBe("firsthello");
    expect(renders).toEqual({ list: 1, a: 1, b: 2 });

    act(() => {
      store.receive({
        type: "session:block:start",
        block: text("c", "new"),
        sessionId: "s",
        seq: 3,
        timestamp: T,
      });
    });
    expect(container.textContent).toBe("firsthellonew");
    expect(renders).toEqual({ list: 2, a: 1, b: 2, c: 1 });
  });
});

import { EventEmitter } from "node:events";

/** An engine.io connection as the queue sees it: packets created, flushed as batches, written by a transport. */
export class FakeConnection extends EventEmitter {
  transport = new EventEmitter();
  private buffer: string[] = [];
  writable = true;

  send(data: string): void {
    this.emit("packetCreate", { data });
    this.buffer.push(data);
    this.flush();
  }

  /** The transport finished writing its batch. */
  written(): void {
    this.writable = true;
    this.transport.emit("drain");
    this.flush();
  }

  private flush(): void {
    if (!this.writable || this.buffer.length === 0) return;
    this.emit("flush", this.buffer);
    this.buffer = [];
    this.writable = false;
  }
}

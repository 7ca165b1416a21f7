import { Refusal } from "../authority.js";

/**
 * Measures a connection's request heads against the limit, however each is split into reads. The fast path
 * measures heads itself: http-parser-js measures only a head that spans reads (one that arrives in a single
 * read is never checked), and counts with it whatever else that read held (a body before it).
 */
export class HeadSizeMeter {
  /** Bytes of the head being read that came in earlier reads. */
  private before = 0;
  /** Where in the current read the head being read starts. */
  private start = 0;
  private inHead = true;

  constructor(private readonly limit: number) {}

  /** A read begins: a head that goes on into it goes on from its start. */
  readBegins(): void {
    this.start = 0;
  }

  /** The parser ended a head at `offset` in the current read: whether that head is over the limit. */
  headEnds(offset: number): boolean {
    this.inHead = false;
    return this.before + offset - this.start > this.limit;
  }

  /** A request ended at `offset` in the current read: the next head starts there. */
  messageEnds(offset: number): void {
    this.inHead = true;
    this.before = 0;
    this.start = offset;
  }

  /** The parser took the read up to `parsed`: whether a head it is still in is already over the limit. */
  readEnds(parsed: number): boolean {
    if (!this.inHead) return false;
    this.before += parsed - this.start;
    return this.before > this.limit;
  }

  /** The answer to a head over the limit. */
  refusal(): Refusal {
    return new Refusal(
      431,
      `the request head is larger than the ${this.limit / 1024} KB the relay accepts`,
    );
  }
}

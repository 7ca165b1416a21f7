import type { HTTPParser } from "http-parser-js";

/** Where http-parser-js is in the read it parses: kept on the parser, though its types do not say so. */
type Parser = InstanceType<typeof HTTPParser>;

interface ParserPosition {
  chunk: Buffer | null;
  offset: number;
}

/** How far into the current read the parser has got. */
export function parsedOffset(parser: Parser): number {
  return (parser as unknown as ParserPosition).offset;
}

/** What the current read holds past where the parser stopped. */
export function unparsedRest(parser: Parser): Buffer {
  const position = parser as unknown as ParserPosition;
  return position.chunk ? position.chunk.subarray(position.offset) : Buffer.alloc(0);
}

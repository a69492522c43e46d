/**
 * The study as server-sent events, shared by every open stream: one poll of the study source per server however
 * many pages watch it (a poll may open a database), a cap on open streams, comment-line heartbeats so proxies and
 * clients see a live connection, and back-pressure: a reader that stops reading is dropped, never buffered for.
 */
import type { ServerResponse } from 'node:http';
import type { StudyJson } from './sources.js';

export interface StudyFeedOptions {
  /** Reads the study (a StudySource bound to one model, or the server's). */
  source: { getStudy(): Promise<StudyJson | undefined> };
  /** How often the study is read while anyone watches. */
  pollMs: number;
  /** Most open streams; `subscribe` refuses beyond it. */
  maxStreams: number;
  /** How often a comment line goes to every stream. */
  heartbeatMs: number;
  /** A stream with more unsent bytes than this when the next write comes is dropped. */
  maxBufferedBytes: number;
  /** A stream that has not drained for this long (checked at each heartbeat) is dropped. */
  stallMs: number;
  onError(message: string): void;
  onCount?(open: number): void;
  onDrop?(): void;
}

interface Stream {
  res: ServerResponse;
  /** When a write last returned false without a 'drain' since. */
  stalledSince: number | undefined;
}

export class StudyFeed {
  private readonly streams = new Set<Stream>();
  /** The last `event: study` frame, sent at once to a stream that joins. */
  private frame = '';
  private lastJson = '';
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;

  constructor(private readonly o: StudyFeedOptions) {}

  get size(): number {
    return this.streams.size;
  }

  get maxStreams(): number {
    return this.o.maxStreams;
  }

  /** Starts streaming to `res` (headers already written); false when the cap is reached. */
  subscribe(res: ServerResponse): boolean {
    if (this.closed || this.streams.size >= this.o.maxStreams) return false;
    const stream: Stream = { res, stalledSince: undefined };
    this.streams.add(stream);
    this.o.onCount?.(this.streams.size);
    res.on('close', () => this.remove(stream));
    res.on('drain', () => {
      stream.stalledSince = undefined;
    });
    this.send(stream, ': connected\n\n');
    if (this.frame) this.send(stream, this.frame);
    if (this.streams.size === 1) this.start();
    return true;
  }

  /** Ends every stream and stops polling (server shutdown). */
  close(): void {
    this.closed = true;
    for (const stream of [...this.streams]) stream.res.end();
    this.stop();
  }

  private start(): void {
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.o.heartbeatMs);
    this.heartbeatTimer.unref();
    if (!this.polling) void this.poll();
  }

  private stop(): void {
    clearTimeout(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    this.pollTimer = undefined;
    this.heartbeatTimer = undefined;
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      const study = await this.o.source.getStudy();
      const json = study ? JSON.stringify(study) : '';
      if (json && json !== this.lastJson) {
        this.lastJson = json;
        this.frame = `event: study\ndata: ${json}\n\n`;
        for (const stream of [...this.streams]) this.send(stream, this.frame);
      }
    } catch (e) {
      this.o.onError(`study source failed: ${(e as Error).message}`);
    } finally {
      this.polling = false;
    }
    clearTimeout(this.pollTimer);
    if (this.streams.size > 0 && !this.closed) this.pollTimer = setTimeout(() => void this.poll(), this.o.pollMs);
  }

  private heartbeat(): void {
    const now = Date.now();
    for (const stream of [...this.streams]) {
      if (stream.stalledSince !== undefined && now - stream.stalledSince >= this.o.stallMs) this.drop(stream);
      else this.send(stream, ': heartbeat\n\n');
    }
  }

  private send(stream: Stream, text: string): void {
    if (stream.res.writableLength > this.o.maxBufferedBytes) {
      this.drop(stream);
      return;
    }
    if (!stream.res.write(text)) stream.stalledSince ??= Date.now();
  }

  private drop(stream: Stream): void {
    this.o.onDrop?.();
    // destroy, not end: end would wait for the unsent bytes the reader is not taking.
    stream.res.destroy();
    this.remove(stream);
  }

  private remove(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    this.o.onCount?.(this.streams.size);
    if (this.streams.size === 0) this.stop();
  }
}

/**
 * One feed per study shown (the server's, and each model's), made on first watch, with one cap on the streams open
 * over all of them.
 */
export class StudyFeeds {
  private readonly feeds = new Map<string, StudyFeed>();

  constructor(private readonly o: Omit<StudyFeedOptions, 'source'>) {}

  /** Open streams over every feed. */
  get size(): number {
    let n = 0;
    for (const feed of this.feeds.values()) n += feed.size;
    return n;
  }

  get maxStreams(): number {
    return this.o.maxStreams;
  }

  /** The feed of `key` (a model name, or '' for the server's study), reading the study with `read`. */
  feed(key: string, read: () => Promise<StudyJson | undefined>): StudyFeed {
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = new StudyFeed({ ...this.o, source: { getStudy: read }, onCount: () => this.o.onCount?.(this.size) });
      this.feeds.set(key, feed);
    }
    return feed;
  }

  close(): void {
    for (const feed of this.feeds.values()) feed.close();
  }
}

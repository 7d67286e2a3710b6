import { connect, type Socket } from 'node:net';

export interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** CPU time the process under test used per answered request, when measured. */
  cpuUsPerRequest?: number;
}

/**
 * Open-loop load at an even pace: every millisecond the requests due by then are started, each
 * timed from when it was due (no coordinated omission). autocannon's rate mode fires all
 * connections in the same tick, so its latencies at a fixed rate measure those bursts, not the
 * proxy. The client speaks HTTP/1.1 on plain keep-alive sockets with one pre-built request: an
 * undici Pool here used twice the CPU and was itself the largest source of tail latency (direct
 * p99 89–233 ms against 3–4 ms with this client, same service, same rate).
 */
export async function paced(url: string, seconds: number, rate: number, headers: Record<string, string>): Promise<Run> {
  const { hostname, port, pathname } = new URL(url);
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const request = Buffer.from(`GET ${pathname} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${head}\r\n`, 'latin1');
  const samples: number[] = [];
  const idle: Socket[] = [];
  const due: number[] = [];
  const sockets = new Set<Socket>();

  const send = () => {
    while (due.length && idle.length) {
      const socket = idle.pop()!;
      dueAt.set(socket, due.shift()!);
      socket.write(request);
    }
  };
  const dueAt = new Map<Socket, number>();
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let buffer: Buffer = Buffer.alloc(0);
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
      socket.on('close', () => {
        sockets.delete(socket);
        dueAt.delete(socket);
        const i = idle.indexOf(socket);
        if (i >= 0) idle.splice(i, 1);
      });
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const headers = buffer.subarray(0, end).toString('latin1');
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
          if (!length) throw new Error(`${url}: the paced client needs answers with a content-length`);
          const total = end + 4 + Number(length[1]);
          if (buffer.length < total) return;
          buffer = buffer.subarray(total);
          if (headers.startsWith('HTTP/1.1 200')) samples.push(performance.now() - dueAt.get(socket)!);
          dueAt.delete(socket);
          idle.push(socket);
          send();
        }
      });
      sockets.add(socket);
    });

  for (let i = 0; i < 64; i++) idle.push(await open());
  const start = performance.now();
  const total = Math.floor(rate * seconds);
  let sent = 0;
  while (sent < total) {
    const now = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    for (; sent < now; sent++) due.push(start + (sent / rate) * 1000);
    send();
    // Every connection busy: open another rather than let requests wait for one (open loop).
    if (due.length && !idle.length && sockets.size < 1024) idle.push(await open());
    await new Promise((r) => setTimeout(r, 1));
  }
  const deadline = performance.now() + 30_000;
  while ((dueAt.size > 0 || due.length > 0) && performance.now() < deadline) {
    send();
    await new Promise((r) => setTimeout(r, 5));
  }
  const errors = total - samples.length; // refused, failed or never answered
  for (const socket of sockets) socket.destroy();
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? NaN;
  return { rps: samples.length / seconds, p50: pct(50), p99: pct(99), non2xx: errors };
}


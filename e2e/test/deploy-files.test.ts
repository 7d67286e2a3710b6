// The deployment files start what they say: every process in docker-compose.yml and in the k8s
// manifests (base and overlays) gets a configuration its own loader accepts, knows every variable
// it is given, and is stopped within its pod's grace; the migrations run before each service.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadAuthConfig } from '../../services/auth/src/config.js';
import { loadLedgerConfig } from '../../services/credits-ledger/src/config.js';
import { loadGenerationConfig } from '../../services/generation/src/config.js';
import { loadBillingConfig } from '../../services/billing/src/config.js';
import { loadNotificationConfig } from '../../services/notification/src/config.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

type Env = Record<string, string>;
type Loader = (env: Env) => Record<string, unknown>;
const SERVICES: Record<string, Loader> = {
  auth: loadAuthConfig,
  'credits-ledger': loadLedgerConfig,
  generation: loadGenerationConfig,
  billing: loadBillingConfig,
  notification: loadNotificationConfig,
};
/** Entry file (compiled, as the image runs it) → the configuration it loads (migrations load their service's). */
const LOADERS: Record<string, Loader> = {
  'dist/gateway/src/main.js': loadGatewayConfig,
  'dist/services/generation/src/worker.js': loadGenerationConfig,
  ...Object.fromEntries(Object.entries(SERVICES).flatMap(([name, load]) => [[`dist/services/${name}/src/main.js`, load], [`dist/services/${name}/src/migrate.js`, load]])),
};
// scripts/migrate.ts runs every service's migrate.ts.
const loadersOf = (entry: string): Loader[] => (entry === 'dist/scripts/migrate.js' ? Object.values(SERVICES) : LOADERS[entry] ? [LOADERS[entry]] : []);
/** The image's default command (the Dockerfile's CMD). */
const IMAGE_CMD = /^CMD \["([^"]+)"\]/m.exec(read('Dockerfile'))![1]!;

/** Loads the configuration or fails the test with the loader's own message (it names every bad variable). */
function accepted(load: Loader, env: Env, where: string): Record<string, unknown> {
  try {
    return load(env);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
  }
}

/** Every variable any process knows (a loaded configuration has exactly its spec's keys). */
function knownVariables(env: Env): Set<string> {
  const dev = { ...env, NODE_ENV: 'development' };
  return new Set([...Object.values(SERVICES), loadGatewayConfig].flatMap((load) => Object.keys(load(dev))).concat(['PORT', 'GATEWAY_PORT', 'WORKER_PORT']));
}

const strings = (o: Record<string, unknown> | undefined): Env => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, String(v)]));

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { build?: string; command?: string[]; environment?: Record<string, unknown> }> };

  it('gives every process a configuration it accepts, and only variables some process knows', () => {
    let checked = 0;
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!svc.build) continue; // postgres, redis: not this image
      const entry = svc.command?.[0] ?? IMAGE_CMD;
      const env = strings(svc.environment);
      const loaders = loadersOf(entry);
      expect(loaders.length, `${name}: ${entry}`).toBeGreaterThan(0);
      for (const load of loaders) accepted(load, env, `compose ${name}`);
      const known = knownVariables(env);
      expect(Object.keys(env).filter((k) => !known.has(k)), `compose ${name}: unknown variables`).toEqual([]);
      // Development defaults point at 127.0.0.1, which inside a container is the container itself:
      // every address another process needs is set to its compose service name.
      const config = loaders.map((load) => load(env));
      const loopback = config.flatMap((c) => Object.entries(c).filter(([k, v]) => k !== 'HOST' && /127\.0\.0\.1|localhost/.test(String(v)) && k !== 'PUBLIC_BASE_URL' && k !== 'CORS_ORIGINS'));
      expect(loopback.map(([k]) => k), `compose ${name}: addresses left at their loopback defaults`).toEqual([]);
      checked++;
    }
    expect(checked).toBe(8); // migrate, five services, the render worker, the gateway
  });
});

// ── k8s ─────────────────────────────────────────────────────────────────────────────────────────

type K8sObject = { kind: string; metadata: { name: string }; data?: Record<string, unknown>; spec?: Record<string, unknown> };
interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: { allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  startupProbe?: unknown;
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
  securityContext?: { runAsNonRoot?: boolean };
}

const docsOf = (file: string): K8sObject[] => parseAllDocuments(read(file)).map((d) => d.toJS() as K8sObject).filter(Boolean);

/** kustomize's resources, with the JSON patches an overlay applies (replace and add, as used here). */
function build(dir: string): K8sObject[] {
  const k = parse(read(path.join(dir, 'kustomization.yaml'))) as { resources?: string[]; patches?: { target: { kind: string; name?: string }; patch: string }[] };
  const objects = (k.resources ?? []).flatMap((r) => (r.endsWith('.yaml') ? docsOf(path.join(dir, r)) : build(path.join(dir, r))));
  for (const p of k.patches ?? []) {
    for (const target of objects.filter((o) => o.kind === p.target.kind && (!p.target.name || o.metadata.name === p.target.name))) {
      for (const op of parse(p.patch) as { op: string; path: string; value: unknown }[]) {
        const keys = op.path.split('/').slice(1);
        const last = keys.pop()!;
        let at = target as unknown as Record<string, unknown>;
        for (const key of keys) at = at[key] as Record<string, unknown>;
        if (op.op === 'replace') expect(at, `${dir}: ${op.path} must exist to be replaced`).toHaveProperty([last]);
        else expect(op.op).toBe('add');
        at[last] = op.value;
      }
    }
  }
  return objects;
}

/** Values that pass each secret's validation, standing in for the secret store. */
function sampleSecrets(keys: string[]): Env {
  const { privateKey } = generateKeyPairSync('ed25519');
  const samples: Env = {
    DATABASE_URL: 'postgres://imlab:secret@postgres.internal:5432/postgres',
    REDIS_URL: 'redis://:secret@redis.internal:6379',
    AUTH_SIGNING_KEYS: JSON.stringify([{ ...privateKey.export({ format: 'jwk' }), kid: 'k1' }]),
    STRIPE_SECRET_KEY: `sk_live_${randomBytes(12).toString('hex')}`,
    STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(12).toString('hex')}`,
    RESEND_API_KEY: `re_${randomBytes(12).toString('hex')}`,
    RESEND_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
    MAIL_FROM: 'imagemakerlab <hello@imagemakerlab.example>',
    S3_ENDPOINT: 'https://s3.example',
    GOOGLE_CLIENT_ID: 'client.apps.googleusercontent.com',
  };
  return Object.fromEntries(keys.map((key) => [key, samples[key] ?? randomBytes(24).toString('base64url')]));
}

const secretKeys = read('k8s/base/secret-keys.txt')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const overlays = readdirSync(path.join(root, 'k8s/overlays')).map((o) => `k8s/overlays/${o}`);

describe.each(['k8s/base', ...overlays])('%s', (dir) => {
  const objects = build(dir);
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'imlab-config')!;
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const pod = (d: K8sObject) => (d.spec as { template: { spec: PodSpec } }).template.spec;
  const envOf = (c: Container): Env => ({
    ...strings(configMap.data),
    ...sampleSecrets(secretKeys),
    ...Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? ''])),
  });

  it('gives every container (init containers included) a configuration its process accepts', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['auth', 'billing', 'credits-ledger', 'gateway', 'generation', 'notification', 'render-worker']);
    for (const d of deployments) {
      for (const c of [...(pod(d).initContainers ?? []), ...pod(d).containers]) {
        expect(c.envFrom, `${d.metadata.name}/${c.name}`).toEqual([{ configMapRef: { name: 'imlab-config' } }, { secretRef: { name: 'imlab-secrets' } }]);
        const loaders = loadersOf(c.args?.[0] ?? '');
        expect(loaders, `${d.metadata.name}/${c.name}: ${c.args?.[0]}`).toHaveLength(1);
        const config = accepted(loaders[0]!, envOf(c), `${dir} ${d.metadata.name}/${c.name}`);
        expect(config.NODE_ENV).toBe('production');
      }
    }
  });

  it('names only variables some process knows, and every secret key is used', () => {
    const known = knownVariables(envOf({ name: 'any' }));
    expect(Object.keys(configMap.data ?? {}).filter((k) => !known.has(k))).toEqual([]);
    expect(secretKeys.filter((k) => !known.has(k))).toEqual([]);
    for (const d of deployments) for (const c of pod(d).containers) expect((c.env ?? []).map((e) => e.name).filter((k) => !known.has(k)), d.metadata.name).toEqual([]);
  });

  it('migrates before each service with a database starts, probes every process, and stops it within the pod grace', () => {
    for (const d of deployments) {
      const spec = pod(d);
      const [main] = spec.containers;
      const entry = main!.args![0]!;
      if (entry !== 'dist/gateway/src/main.js') {
        const service = entry.split('/')[2];
        expect(spec.initContainers?.map((c) => c.args?.[0]), d.metadata.name).toEqual([`dist/services/${service}/src/migrate.js`]);
      }
      expect(main!.readinessProbe?.httpGet?.path, d.metadata.name).toBe('/readyz');
      expect(main!.livenessProbe?.httpGet?.path, d.metadata.name).toBe('/healthz');
      expect(main!.startupProbe, d.metadata.name).toBeDefined();
      // preStop sleep, then the process's own drain (SHUTDOWN_GRACE_MS), inside the pod's grace.
      const sleep = Number(main!.lifecycle?.preStop?.exec?.command[1] ?? 0);
      expect(sleep, d.metadata.name).toBeGreaterThan(0);
      const config = loadersOf(entry)[0]!(envOf(main!));
      expect(spec.terminationGracePeriodSeconds! * 1000, d.metadata.name).toBeGreaterThanOrEqual(sleep * 1000 + Number(config.SHUTDOWN_GRACE_MS));
      expect(spec.securityContext?.runAsNonRoot, d.metadata.name).toBe(true);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.securityContext, `${d.metadata.name}/${c.name}`).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources?.requests?.memory && c.resources?.limits?.memory, `${d.metadata.name}/${c.name}: memory request and limit`).toBeTruthy();
      }
    }
  });

  it('lets only the gateway take connections from outside the system, on its public port only (not metrics)', () => {
    type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values: string[] }[] };
    const selects = (sel: Selector, labels: Record<string, string>) =>
      Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
      (sel.matchExpressions ?? []).every((e) => (e.operator === 'In' ? e.values.includes(labels[e.key] ?? '') : e.operator === 'NotIn' ? !e.values.includes(labels[e.key] ?? '') : false));
    type Rule = { from?: unknown[]; ports?: { port: string | number }[] };
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec as { podSelector: Selector; policyTypes: string[]; ingress?: Rule[] });
    for (const d of deployments) {
      const labels = (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      const applying = policies.filter((p) => p.policyTypes.includes('Ingress') && selects(p.podSelector, labels));
      const rules = applying.flatMap((p) => p.ingress ?? []);
      // A rule without `from` admits anyone: only the gateway's public port may have one.
      const open = rules.filter((r) => !r.from);
      expect(applying.length, `${d.metadata.name}: ingress restricted`).toBeGreaterThan(0);
      if (d.metadata.name === 'gateway') {
        expect(open.flatMap((r) => r.ports?.map((p) => p.port) ?? ['every port']), 'gateway: only http is public').toEqual(['http']);
      } else {
        expect(open, `${d.metadata.name}: nothing open to all`).toEqual([]);
      }
    }
  });

  it('scrapes every process on its own metrics port (METRICS_PORT), which no Service exposes', () => {
    for (const d of deployments) {
      const spec = pod(d);
      const main = spec.containers[0]!;
      const annotations = (d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations ?? {};
      const metricsPort = (main.ports ?? []).find((p) => p.name === 'metrics')?.containerPort;
      expect(metricsPort, `${d.metadata.name}: a port named metrics`).toBeDefined();
      expect(annotations['prometheus.io/port'], d.metadata.name).toBe(String(metricsPort));
      const env = envOf(main);
      expect(env.METRICS_PORT ?? env.WORKER_METRICS_PORT, `${d.metadata.name}: listens for /metrics there`).toBe(String(metricsPort));
    }
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const ports = (svc.spec as { ports: { name?: string; targetPort?: string | number }[] }).ports;
      expect(ports.map((p) => p.targetPort ?? p.name), svc.metadata.name).not.toContain('metrics');
    }
  });

  it('puts files that several processes or replicas share on a shared volume', () => {
    const claims = new Map(objects.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => [o.metadata.name, o]));
    const mountOf = (name: string, dirPath: string) => {
      const d = deployments.find((x) => x.metadata.name === name)!;
      const mount = pod(d).containers[0]!.volumeMounts?.find((m) => m.mountPath === dirPath);
      const claim = pod(d).volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
      expect(claim, `${name} mounts ${dirPath} from a claim`).toBeDefined();
      // ReadWriteOnce only where every Deployment runs one replica (a single-node dev cluster).
      const singleNode = deployments.every((x) => (x.spec as { replicas: number }).replicas === 1);
      const modes = (claims.get(claim!)?.spec as { accessModes: string[] }).accessModes;
      expect(modes.some((m) => m === 'ReadWriteMany' || (singleNode && m === 'ReadWriteOnce')), `${claim}: ${modes.join(', ')}`).toBe(true);
      return claim;
    };
    // Account exports: written by one auth replica, served by any.
    const auth = deployments.find((x) => x.metadata.name === 'auth')!;
    expect(loadAuthConfig(envOf(pod(auth).containers[0]!)).EXPORT_DIR).toBe('/data/exports');
    mountOf('auth', '/data/exports');
    // Images on the filesystem: the render worker writes what the generation API serves.
    const storage = loadGenerationConfig(envOf(pod(deployments.find((x) => x.metadata.name === 'generation')!).containers[0]!));
    if (storage.STORAGE === 'fs') expect(mountOf('generation', String(storage.STORAGE_DIR))).toBe(mountOf('render-worker', String(storage.STORAGE_DIR)));
  });
});

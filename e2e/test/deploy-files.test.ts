// The deployment files start what they say: every process in docker-compose.yml and in the k8s
// manifests (base and every overlay, built by kustomize itself) gets a configuration its own loader
// accepts from its own Secret's keys only, knows every variable it is given, and is stopped within
// its pod's grace; the migrations run before each service; every object validates against its
// schema (Kubernetes, KEDA, Prometheus Operator, cert-manager, Gateway API, External Secrets,
// CloudNativePG).
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadAuthConfig } from '../../services/auth/src/config.js';
import { loadLedgerConfig } from '../../services/credits-ledger/src/config.js';
import { loadGenerationConfig, workerPoolSize } from '../../services/generation/src/config.js';
import { loadBillingConfig } from '../../services/billing/src/config.js';
import { loadNotificationConfig, notificationPoolSize } from '../../services/notification/src/config.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { kustomizeBuild } from './tools.js';
import { validateObject } from './k8s-schemas.js';

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
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { build?: string; command?: string[]; environment?: Record<string, unknown>; stop_grace_period?: string }> };

  it("stops every long-running process only after its own drain (SHUTDOWN_GRACE_MS), and the render worker after a render's longest wait", () => {
    const seconds = (d: string | undefined) => {
      const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(d ?? '');
      return m && (m[1] || m[2]) ? Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) : 10; // Docker's default: 10 s
    };
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!svc.build || name === 'migrate') continue;
      const entry = svc.command?.[0] ?? IMAGE_CMD;
      const config = loadersOf(entry)[0]!(strings(svc.environment));
      expect(seconds(svc.stop_grace_period) * 1000, `compose ${name}: stop_grace_period`).toBeGreaterThan(Number(config.SHUTDOWN_GRACE_MS));
      if (name === 'render-worker') expect(Number(config.SHUTDOWN_GRACE_MS), 'the render worker drains for longer than a render may take').toBeGreaterThan(Number(config.PROVIDER_TIMEOUT_MS));
    }
  });

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

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> }; data?: Record<string, unknown>; spec?: Record<string, unknown> };
interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: { allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  startupProbe?: unknown;
  readinessProbe?: { httpGet?: { path: string }; timeoutSeconds?: number };
  livenessProbe?: { httpGet?: { path: string } };
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: { matchLabels?: Record<string, string> } }[];
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
  securityContext?: { runAsNonRoot?: boolean };
}

const build = (dir: string): K8sObject[] => parseAllDocuments(kustomizeBuild(path.join(root, dir))).map((d) => d.toJS() as K8sObject).filter(Boolean);

/** Values that pass each secret's validation, standing in for the secret store. */
function sampleSecrets(keys: string[]): Env {
  const { privateKey } = generateKeyPairSync('ed25519');
  const samples: Env = {
    DATABASE_URL: 'postgres://imlab_service:secret@imlab-postgres-rw:5432/postgres',
    DATABASE_ADMIN_URL: 'postgres://postgres:secret@imlab-postgres-rw:5432/postgres',
    REDIS_URL: 'redis://:secret@redis:6379',
    AUTH_SIGNING_KEYS: JSON.stringify([{ ...privateKey.export({ format: 'jwk' }), kid: 'k1' }]),
    STRIPE_SECRET_KEY: `sk_live_${randomBytes(12).toString('hex')}`,
    STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(12).toString('hex')}`,
    RESEND_API_KEY: `re_${randomBytes(12).toString('hex')}`,
    RESEND_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
  };
  return Object.fromEntries(keys.map((key) => [key, samples[key] ?? randomBytes(24).toString('base64url')]));
}

/** Each Secret's keys: the ExternalSecrets of components/external-secrets are the list. */
const secretKeys = new Map(
  docsOfFile('k8s/components/external-secrets/external-secrets.yaml').map((o) => [
    o.metadata.name,
    ((o.spec as { data: { secretKey: string }[] }).data ?? []).map((d) => d.secretKey),
  ]),
);
function docsOfFile(file: string): K8sObject[] {
  return parseAllDocuments(read(file)).map((d) => d.toJS() as K8sObject).filter(Boolean);
}
/** The Secret each Deployment's processes read, and the service whose configuration that is. */
const SECRET_OF: Record<string, string> = {
  gateway: 'imlab-gateway',
  auth: 'imlab-auth',
  'credits-ledger': 'imlab-credits-ledger',
  generation: 'imlab-generation',
  'render-worker': 'imlab-generation',
  billing: 'imlab-billing',
  notification: 'imlab-notification',
};
const overlays = readdirSync(path.join(root, 'k8s/overlays')).map((o) => `k8s/overlays/${o}`);
const components = readdirSync(path.join(root, 'k8s/components')).filter((c) => existsSync(path.join(root, 'k8s/components', c, 'kustomization.yaml')));

describe('k8s/components/external-secrets', () => {
  it('gives each Secret only keys its own processes read (the gateway never holds Stripe or OpenAI keys)', () => {
    const dev = { NODE_ENV: 'development' };
    const own: Record<string, string[]> = {
      'imlab-gateway': Object.keys(loadGatewayConfig(dev)),
      'imlab-auth': Object.keys(loadAuthConfig(dev)),
      'imlab-credits-ledger': Object.keys(loadLedgerConfig(dev)),
      'imlab-generation': Object.keys(loadGenerationConfig(dev)),
      'imlab-billing': Object.keys(loadBillingConfig(dev)),
      'imlab-notification': Object.keys(loadNotificationConfig(dev)),
      // only the migrate init containers mount it; every service's migrate reads it
      'imlab-db-admin': Object.keys(loadLedgerConfig(dev)),
    };
    expect([...secretKeys.keys()].sort()).toEqual(Object.keys(own).sort());
    for (const [secret, keys] of secretKeys) expect(keys.filter((k) => !own[secret]!.includes(k)), `${secret}: keys its processes never read`).toEqual([]);
    expect(secretKeys.get('imlab-gateway')).not.toContain('STRIPE_SECRET_KEY');
    expect(secretKeys.get('imlab-gateway')).not.toContain('OPENAI_API_KEY');
    expect(secretKeys.get('imlab-gateway')).not.toContain('DATABASE_URL');
    expect([...secretKeys].filter(([, keys]) => keys.includes('MESSAGE_SEAL_KEY')).map(([s]) => s).sort()).toEqual(['imlab-auth', 'imlab-notification']);
    expect([...secretKeys].filter(([, keys]) => keys.includes('DATABASE_ADMIN_URL')).map(([s]) => s)).toEqual(['imlab-db-admin']);
  });
});

describe.each(['k8s/base', ...overlays])('%s', (dir) => {
  const objects = build(dir);
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'imlab-config')!;
  const deployments = objects.filter((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/part-of'] === 'imagemakerlab');
  const pod = (d: K8sObject) => (d.spec as { template: { spec: PodSpec } }).template.spec;
  const podLabels = (d: K8sObject) => (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
  const envOf = (c: Container): Env => ({
    ...strings(configMap.data),
    ...Object.assign({}, ...(c.envFrom ?? []).flatMap((f) => (f.secretRef ? [sampleSecrets(secretKeys.get(f.secretRef.name) ?? [])] : []))),
    ...Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? ''])),
  });

  it('validates every object against its schema (Kubernetes and each operator it names)', () => {
    const problems = objects.flatMap((o) => {
      const error = validateObject(o);
      return error ? [`${o.kind}/${o.metadata.name}: ${error}`] : [];
    });
    expect(problems).toEqual([]);
    // the check itself bites
    expect(validateObject({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x' }, spec: { scaleTargetRef: { name: 'x' }, fallback: { failureThreshold: 3 } } } as never)).toMatch(/required property/);
    expect(validateObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'a', ports: [{ containerPort: 'http' }] }] } } } } as never)).toMatch(/integer/);
  });

  it('validates the CloudNativePG objects against their schema, and the schema refuses wrong fields', () => {
    const cnpg = objects.filter((o) => o.apiVersion === 'postgresql.cnpg.io/v1');
    if (dir === 'k8s/base' || dir === 'k8s/overlays/dev') expect(cnpg).toEqual([]); // applies to a bare cluster
    else expect(cnpg.map((o) => o.kind).sort()).toEqual(['Cluster', 'ScheduledBackup']);
    for (const o of cnpg) expect(validateObject(o), `${o.kind}/${o.metadata.name}`).toBeUndefined();
    const cluster = docsOfFile('k8s/components/datastores/postgres.yaml').find((o) => o.kind === 'Cluster')!;
    const scheduled = docsOfFile('k8s/components/datastores/postgres.yaml').find((o) => o.kind === 'ScheduledBackup')!;
    type Spec = { instances?: unknown; primaryUpdateStrategy?: unknown; backup: { barmanObjectStore: { destinationPath?: unknown; wal: { compression?: unknown } } }; cluster?: unknown; backupOwnerReference?: unknown };
    const changed = (o: K8sObject, change: (spec: Spec) => void) => {
      const copy = structuredClone(o) as K8sObject & { spec: Spec };
      change(copy.spec);
      return validateObject(copy);
    };
    expect(validateObject(cluster)).toBeUndefined();
    expect(changed(cluster, (s) => (s.instances = 'three'))).toMatch(/spec\/instances must be integer/);
    expect(changed(cluster, (s) => (s.backup.barmanObjectStore.wal.compression = 'zip'))).toMatch(/compression must be equal to one of the allowed values/);
    expect(changed(cluster, (s) => (s.primaryUpdateStrategy = 'whenever'))).toMatch(/primaryUpdateStrategy must be equal to one of the allowed values/);
    expect(changed(cluster, (s) => delete s.backup.barmanObjectStore.destinationPath)).toMatch(/barmanObjectStore must have required property destinationPath/);
    expect(changed(scheduled, (s) => delete s.cluster)).toMatch(/spec must have required property cluster/);
    expect(changed(scheduled, (s) => (s.backupOwnerReference = 'everyone'))).toMatch(/backupOwnerReference must be equal to one of the allowed values/);
  });

  it("gives every container (init containers included) a configuration its process accepts from its own Secret's keys", () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['auth', 'billing', 'credits-ledger', 'gateway', 'generation', 'notification', 'render-worker']);
    for (const d of deployments) {
      const secret = SECRET_OF[d.metadata.name]!;
      for (const c of pod(d).containers) expect(c.envFrom, `${d.metadata.name}/${c.name}`).toEqual([{ configMapRef: { name: 'imlab-config' } }, { secretRef: { name: secret } }]);
      // only the migrate step holds the admin connection that creates the service's role
      for (const c of pod(d).initContainers ?? []) expect(c.envFrom, `${d.metadata.name}/${c.name}`).toEqual([{ configMapRef: { name: 'imlab-config' } }, { secretRef: { name: secret } }, { secretRef: { name: 'imlab-db-admin' } }]);
      for (const c of [...(pod(d).initContainers ?? []), ...pod(d).containers]) {
        const loaders = loadersOf(c.args?.[0] ?? '');
        expect(loaders, `${d.metadata.name}/${c.name}: ${c.args?.[0]}`).toHaveLength(1);
        const config = accepted(loaders[0]!, envOf(c), `${dir} ${d.metadata.name}/${c.name}`);
        expect(config.NODE_ENV).toBe('production');
      }
    }
  });

  it('names only variables some process knows', () => {
    const known = knownVariables({ ...strings(configMap.data), ...sampleSecrets([...new Set([...secretKeys.values()].flat())]) });
    expect(Object.keys(configMap.data ?? {}).filter((k) => !known.has(k))).toEqual([]);
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
      // /readyz gives each dependency 2 s (packages/http/src/health.ts; the gateway its upstreams 1 s
      // each, side by side): the kubelet's 1 s default would fail a slow answer without its reason
      expect(main!.readinessProbe?.timeoutSeconds, `${d.metadata.name}: readiness probe timeout`).toBeGreaterThanOrEqual(3);
      expect(main!.livenessProbe?.httpGet?.path, d.metadata.name).toBe('/healthz');
      expect(main!.startupProbe, d.metadata.name).toBeDefined();
      // preStop sleep, then the process's own drain (SHUTDOWN_GRACE_MS), inside the pod's grace.
      const sleep = Number(main!.lifecycle?.preStop?.exec?.command[1] ?? 0);
      expect(sleep, d.metadata.name).toBeGreaterThan(0);
      const config = loadersOf(entry)[0]!(envOf(main!));
      expect(spec.terminationGracePeriodSeconds! * 1000, d.metadata.name).toBeGreaterThanOrEqual(sleep * 1000 + Number(config.SHUTDOWN_GRACE_MS));
    }
  });

  it('runs every pod without privileges, with a read-only root filesystem, no API token, spread over zones and nodes', () => {
    for (const d of deployments) {
      const spec = pod(d);
      expect(spec.securityContext?.runAsNonRoot, d.metadata.name).toBe(true);
      expect(spec.automountServiceAccountToken, d.metadata.name).toBe(false);
      const spread = spec.topologySpreadConstraints ?? [];
      expect(spread.map((t) => t.topologyKey).sort(), d.metadata.name).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const t of spread) expect(t.labelSelector?.matchLabels, d.metadata.name).toEqual({ 'app.kubernetes.io/name': d.metadata.name });
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.securityContext, `${d.metadata.name}/${c.name}`).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources?.requests?.memory && c.resources?.limits?.memory, `${d.metadata.name}/${c.name}: memory request and limit`).toBeTruthy();
      }
    }
  });

  type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values: string[] }[] };
  const selects = (sel: Selector | undefined, labels: Record<string, string>) =>
    !!sel &&
    Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
    (sel.matchExpressions ?? []).every((e) => (e.operator === 'In' ? e.values.includes(labels[e.key] ?? '') : e.operator === 'NotIn' ? !e.values.includes(labels[e.key] ?? '') : false));
  type Peer = { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: { cidr: string } };
  type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port: string | number; protocol?: string }[] };
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec as { podSelector: Selector; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] });
  const applying = (labels: Record<string, string>, type: 'Ingress' | 'Egress') => policies.filter((p) => p.policyTypes.includes(type) && selects(p.podSelector, labels));

  it('denies by default, and lets only the gateway take connections from outside the system, on its public port only (not metrics)', () => {
    for (const d of deployments) {
      const labels = podLabels(d);
      for (const type of ['Ingress', 'Egress'] as const) expect(applying(labels, type).length, `${d.metadata.name}: ${type} restricted`).toBeGreaterThan(0);
      // A rule without `from` admits anyone: only the gateway's public port may have one.
      const open = applying(labels, 'Ingress')
        .flatMap((p) => p.ingress ?? [])
        .filter((r) => !r.from);
      if (d.metadata.name === 'gateway') {
        expect(open.flatMap((r) => r.ports?.map((p) => p.port) ?? ['every port']), 'gateway: only http is public').toEqual(['http']);
      } else {
        expect(open, `${d.metadata.name}: nothing open to all`).toEqual([]);
      }
    }
  });

  it('lets each pod reach only what it needs: DNS, Redis, Postgres, its peers, its providers', () => {
    const byName = new Map(deployments.map((d) => [d.metadata.name, podLabels(d)]));
    const egress = (name: string) => applying(byName.get(name)!, 'Egress').flatMap((p) => p.egress ?? []);
    const reaches = (from: string, to: string) => egress(from).some((r) => r.ports?.some((p) => p.port === 'http') && (r.to ?? []).some((peer) => selects(peer.podSelector, byName.get(to)!)));
    const internet = (name: string) => egress(name).some((r) => (r.to ?? []).some((peer) => peer.ipBlock?.cidr === '0.0.0.0/0'));
    const toPort = (name: string, port: number) => egress(name).some((r) => r.ports?.some((p) => p.port === port));
    for (const name of byName.keys()) {
      expect(toPort(name, 53) && toPort(name, 6379) && toPort(name, 5432), `${name}: DNS, Redis, Postgres`).toBe(true);
      expect(reaches(name, 'auth') || name === 'auth', `${name}: auth's JWKS`).toBe(true);
    }
    for (const service of ['auth', 'credits-ledger', 'generation', 'billing', 'notification']) expect(reaches('gateway', service), `gateway → ${service}`).toBe(true);
    for (const service of ['credits-ledger', 'generation', 'billing']) expect(reaches('auth', service), `auth → ${service}`).toBe(true);
    expect(reaches('billing', 'credits-ledger')).toBe(false);
    expect(reaches('gateway', 'render-worker')).toBe(false);
    expect([...byName.keys()].filter(internet).sort()).toEqual(['auth', 'billing', 'generation', 'notification', 'render-worker']);
  });

  it('serves /metrics on each process’s own metrics port (METRICS_PORT), which no Service exposes', () => {
    for (const d of deployments) {
      const main = pod(d).containers[0]!;
      const metricsPort = (main.ports ?? []).find((p) => p.name === 'metrics')?.containerPort;
      expect(metricsPort, `${d.metadata.name}: a port named metrics`).toBeDefined();
      const env = envOf(main);
      expect(env.METRICS_PORT ?? env.WORKER_METRICS_PORT, `${d.metadata.name}: listens for /metrics there`).toBe(String(metricsPort));
      // the Prometheus Operator ignores these: the PodMonitor is what scrapes
      expect((d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata.annotations ?? {}).not.toHaveProperty(['prometheus.io/scrape']);
    }
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const ports = (svc.spec as { ports: { name?: string; targetPort?: string | number }[] }).ports;
      expect(ports.map((p) => p.targetPort ?? p.name), svc.metadata.name).not.toContain('metrics');
    }
    const monitors = objects.filter((o) => o.kind === 'PodMonitor');
    if (dir.includes('production')) expect(monitors.length).toBe(1);
    for (const m of monitors) {
      const spec = m.spec as { selector: Selector; podMetricsEndpoints: { port: string; path: string }[] };
      expect(spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
      for (const d of deployments) expect(selects(spec.selector, podLabels(d)), `PodMonitor scrapes ${d.metadata.name}`).toBe(true);
    }
  });

  it('leaves the replica count to the autoscalers: HPAs on CPU for the gateway and the services, KEDA for render workers', () => {
    const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    const scaled = objects.filter((o) => o.kind === 'ScaledObject');
    if (!dir.endsWith('/dev')) for (const d of deployments) expect(d.spec, `${d.metadata.name}: a fixed replicas resets the autoscaler on every apply`).not.toHaveProperty('replicas');
    if (dir.includes('production')) {
      const targets = hpas.map((h) => (h.spec as { scaleTargetRef: { name: string }; metrics: { resource: { name: string } }[] }).scaleTargetRef.name);
      expect(targets.sort()).toEqual(['auth', 'billing', 'credits-ledger', 'gateway', 'generation', 'notification']);
      for (const h of hpas) expect((h.spec as { metrics: { resource?: { name: string } }[] }).metrics.map((m) => m.resource?.name)).toEqual(['cpu']);
      expect(scaled).toHaveLength(1);
      const so = scaled[0]!;
      const spec = so.spec as { scaleTargetRef: { name: string }; fallback?: { replicas: number }; triggers: { type: string; metadata: { query: string; ignoreNullValues?: string } }[] };
      expect(spec.scaleTargetRef.name).toBe('render-worker');
      expect(spec.fallback?.replicas).toBeGreaterThan(1);
      const [trigger] = spec.triggers;
      expect(trigger!.metadata.ignoreNullValues).toBe('false');
      // the namespace the objects land in, not another environment's
      expect(so.metadata.namespace).toBeTruthy();
      expect(trigger!.metadata.query).toContain(`namespace="${so.metadata.namespace}"`);
      expect(trigger!.metadata.query).toMatch(/imlab_queue_jobs\{[^}]*queue="generation-render"[^}]*state=~"waiting\|prioritized"/);
    }
    if (dir.endsWith('/dev')) {
      // applies on a bare cluster: nothing that needs an operator's CRDs
      const groups = new Set(objects.map((o) => o.apiVersion.split('/').slice(0, -1).join('/')));
      expect([...groups].filter((g) => g.includes('.') && !g.endsWith('k8s.io'))).toEqual([]);
      expect(deployments.every((d) => (d.spec as { replicas?: number }).replicas === 1)).toBe(true);
    }
  });

  it("fits every process's Postgres connections, at the autoscalers' maxima and a rolling update's surge, within the Cluster's max_connections", () => {
    const cluster = objects.find((o) => o.kind === 'Cluster');
    if (!cluster) return; // no Postgres of its own (base, dev): the servers are the operator's
    const parameters = (cluster.spec as { postgresql: { parameters: Record<string, string> } }).postgresql.parameters;
    const maxConnections = Number(parameters.max_connections);
    const reserved = Number(parameters.superuser_reserved_connections ?? 3);
    // CloudNativePG's instance manager and its metrics exporter, a migration job, an operator's psql
    const HEADROOM = 20;
    const maxReplicas = (name: string): number => {
      const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === name);
      if (hpa) return (hpa.spec as { maxReplicas: number }).maxReplicas;
      const scaled = objects.find((o) => o.kind === 'ScaledObject' && (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === name);
      if (scaled) return (scaled.spec as { maxReplicaCount: number }).maxReplicaCount;
      return (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)!.spec as { replicas?: number }).replicas ?? 1;
    };
    // a rolling update runs up to maxSurge pods more (Kubernetes's default: 25 %, rounded up)
    const surge = (d: K8sObject, replicas: number): number => {
      const value = (d.spec as { strategy?: { rollingUpdate?: { maxSurge?: number | string } } }).strategy?.rollingUpdate?.maxSurge ?? '25%';
      return typeof value === 'number' ? value : Math.ceil((replicas * parseFloat(value)) / 100);
    };
    // each process: its pool (as its entry point sizes it) and the relay's LISTEN connection
    const connectionsOf = (entry: string, config: Record<string, unknown>): number => {
      if (entry === 'dist/gateway/src/main.js') return 0;
      if (entry === 'dist/services/generation/src/worker.js') return workerPoolSize(config as never) + 1;
      if (entry === 'dist/services/notification/src/main.js') return notificationPoolSize(config as never) + 1;
      return Number(config.DB_POOL_SIZE) + 1;
    };
    const rows = deployments.map((d) => {
      const main = pod(d).containers[0]!;
      const entry = main.args![0]!;
      const replicas = maxReplicas(d.metadata.name);
      const pods = replicas + surge(d, replicas);
      const each = connectionsOf(entry, loadersOf(entry)[0]!(envOf(main)));
      return { name: d.metadata.name, pods, each, total: pods * each };
    });
    const total = rows.reduce((sum, r) => sum + r.total, 0);
    expect(total + HEADROOM, JSON.stringify(rows)).toBeLessThanOrEqual(maxConnections - reserved);
    // the count itself: every process with a database holds connections, the render workers' are counted
    expect(rows.find((r) => r.name === 'gateway')!.total).toBe(0);
    expect(rows.filter((r) => r.name !== 'gateway').every((r) => r.each >= 3)).toBe(true);
    expect(rows.find((r) => r.name === 'render-worker')!.pods).toBeGreaterThanOrEqual(20);
  });

  it('terminates TLS at the edge with a cert-manager certificate, in front of the gateway only', () => {
    if (!dir.includes('production')) return expect(objects.filter((o) => o.kind === 'Ingress' || o.kind === 'HTTPRoute')).toEqual([]);
    const issuers = new Set(objects.filter((o) => o.kind === 'ClusterIssuer').map((o) => o.metadata.name));
    const ingress = objects.filter((o) => o.kind === 'Ingress');
    const routes = objects.filter((o) => o.kind === 'HTTPRoute');
    expect(ingress.length + routes.length).toBeGreaterThan(0);
    for (const i of ingress) {
      const spec = i.spec as { tls: { secretName: string }[]; rules: { http: { paths: { backend: { service: { name: string } } }[] } }[] };
      expect(issuers.has(i.metadata.annotations?.['cert-manager.io/cluster-issuer'] ?? '')).toBe(true);
      expect(spec.tls[0]?.secretName).toBeTruthy();
      expect(spec.rules.flatMap((r) => r.http.paths.map((p) => p.backend.service.name))).toEqual(['gateway']);
    }
    if (routes.length) {
      const certificates = objects.filter((o) => o.kind === 'Certificate').map((c) => c.spec as { secretName: string; issuerRef: { name: string } });
      const gateway = objects.find((o) => o.kind === 'Gateway')!.spec as { listeners: { protocol: string; tls?: { certificateRefs: { name: string }[] } }[] };
      const https = gateway.listeners.find((l) => l.protocol === 'HTTPS')!;
      expect(certificates.map((c) => c.secretName)).toContain(https.tls!.certificateRefs[0]!.name);
      for (const c of certificates) expect(issuers.has(c.issuerRef.name)).toBe(true);
      const backends = routes.flatMap((r) => (r.spec as { rules: { backendRefs?: { name: string; port: number }[] }[] }).rules.flatMap((x) => x.backendRefs ?? []));
      expect(backends).toEqual([{ name: 'gateway', port: 8080 }]);
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
      const singleNode = deployments.every((x) => (x.spec as { replicas?: number }).replicas === 1);
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

describe('k8s/components', () => {
  it('are each used by an overlay (none is dead)', () => {
    const used = new Set(overlays.flatMap((o) => ((parse(read(`${o}/kustomization.yaml`)) as { components?: string[] }).components ?? []).map((c) => path.basename(c))));
    expect(components.filter((c) => !used.has(c))).toEqual([]);
  });

  it('the Cloudflare profile keys clients by CF-Connecting-IP and stores images in R2 through the S3 driver', () => {
    const config = build('k8s/overlays/production').find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'imlab-config')!;
    const env = strings(config.data);
    expect(env.EDGE_PROFILE).toBe('cloudflare');
    expect(env.S3_ENDPOINT).toMatch(/^https:\/\/[A-Za-z0-9_]+\.r2\.cloudflarestorage\.com$/);
    const gen = loadGenerationConfig({ ...env, ...sampleSecrets(secretKeys.get('imlab-generation')!) });
    expect(gen).toMatchObject({ STORAGE: 's3', S3_REGION: 'auto', S3_FORCE_PATH_STYLE: 'true' });
  });

  it('the data stores: Redis with noeviction and AOF, not clustered; Postgres with backups for point-in-time recovery', () => {
    const objects = docsOfFile('k8s/components/datastores/redis.yaml').concat(docsOfFile('k8s/components/datastores/postgres.yaml'));
    const conf = String(objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'imlab-redis')!.data!['redis.conf']);
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m);
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).not.toMatch(/cluster-enabled yes/);
    // Their schema (k8s-schemas.ts) checks types and values; what they must say is checked here.
    const cluster = objects.find((o) => o.kind === 'Cluster')!.spec as { instances: number; backup: { retentionPolicy: string; barmanObjectStore: { destinationPath: string; wal: unknown } } };
    expect(cluster.instances).toBeGreaterThanOrEqual(3);
    expect(cluster.backup.barmanObjectStore.destinationPath).toMatch(/^s3:\/\//);
    expect(cluster.backup.barmanObjectStore.wal).toBeDefined(); // WAL archiving: point-in-time recovery
    expect(cluster.backup.retentionPolicy).toMatch(/^\d+d$/);
    const scheduled = objects.find((o) => o.kind === 'ScheduledBackup')!.spec as { cluster: { name: string } };
    expect(scheduled.cluster.name).toBe(objects.find((o) => o.kind === 'Cluster')!.metadata.name);
  });

  it("the restore drill's recovery Cluster (docs/operations.md) validates and reads the backups the Cluster writes", () => {
    // Point-in-time recovery itself needs a cluster and is not run here: this checks what can be.
    const section = read('docs/operations.md').split('## Restore from backup')[1]!;
    const recovery = parse(/```yaml\n([\s\S]*?)```/.exec(section)![1]!.replace(/^ {3}/gm, '')) as K8sObject;
    expect(validateObject(recovery)).toBeUndefined();
    const spec = recovery.spec as { bootstrap: { recovery: { source: string; recoveryTarget: { targetTime: string } } }; externalClusters: { name: string; barmanObjectStore: unknown }[] };
    const cluster = docsOfFile('k8s/components/datastores/postgres.yaml').find((o) => o.kind === 'Cluster')!;
    const source = spec.externalClusters.find((c) => c.name === spec.bootstrap.recovery.source)!;
    expect(source.name).toBe(cluster.metadata.name);
    const { wal: _wal, data: _data, ...store } = (cluster.spec as { backup: { barmanObjectStore: Record<string, unknown> } }).backup.barmanObjectStore;
    expect(source.barmanObjectStore).toEqual(store);
    expect(Number.isNaN(Date.parse(spec.bootstrap.recovery.recoveryTarget.targetTime.replace(' ', 'T').replace(/\+00$/, 'Z')))).toBe(false);
  });
});

// Monitoring as code (k8s/components/monitoring): every alert and dashboard expression parses as
// PromQL and names only metrics some process registers (and only labels that metric has), every
// alert links to a runbook section that exists in docs/operations.md, and every metric name is
// `imlab_`-prefixed with its unit as suffix. The metric names come from the code itself: every
// prom-client registration under services/, packages/ and gateway/, plus prom-client's default
// process and Node.js metrics and the series Prometheus adds itself (`up`).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parser } from '@prometheus-io/lezer-promql';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { debianTool } from './tools.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (name === 'node_modules' || name === 'test' || name === 'dist') return [];
    if (statSync(path.join(root, rel)).isDirectory()) return sources(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

type Kind = 'Counter' | 'Gauge' | 'Histogram' | 'Summary';
interface Registered {
  kind: Kind;
  labels: Set<string>;
  file: string;
}
/** `new Counter({ name: 'imlab_x_total', …, labelNames: ['a', 'b'] …})` in every source file. */
function registeredInCode(): Map<string, Registered> {
  const found = new Map<string, Registered>();
  const files = ['services', 'packages', 'gateway'].flatMap((d) => readdirSync(path.join(root, d)).flatMap((p) => (statSync(path.join(root, d, p)).isDirectory() ? sources(path.join(d, p)) : [])));
  for (const file of files) {
    const text = read(file);
    for (const m of text.matchAll(/new (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\s*\{([\s\S]*?)\}\s*\)/g)) {
      const name = /\bname:\s*'([^']+)'/.exec(m[2]!)?.[1];
      if (!name) continue;
      const labels = /\blabelNames:\s*\[([^\]]*)\]/.exec(m[2]!)?.[1] ?? '';
      found.set(name, { kind: m[1] as Kind, labels: new Set([...labels.matchAll(/'([^']+)'/g)].map((l) => l[1]!)), file });
    }
  }
  return found;
}

const registered = registeredInCode();
/** prom-client's default metrics, as every process's registry has them. */
const defaults = (() => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry.getMetricsAsArray().map((m) => ({ name: m.name, kind: String(m.type), labels: new Set<string>() }));
})();
// Added by Prometheus to every series it scrapes (the PodMonitor's target labels), and `service`,
// every registry's default label.
const TARGET_LABELS = ['namespace', 'pod', 'container', 'job', 'instance', 'endpoint', 'service'];

/** Every series name a scrape can show, with its labels (histograms: _bucket, _count, _sum). */
function knownSeries(): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>([['up', new Set(TARGET_LABELS)]]);
  const add = (name: string, kind: string, labels: Set<string>) => {
    const all = new Set([...labels, ...TARGET_LABELS]);
    if (kind === 'histogram' || kind === 'Histogram') {
      series.set(`${name}_bucket`, new Set([...all, 'le']));
      series.set(`${name}_count`, all);
      series.set(`${name}_sum`, all);
    } else if (kind === 'summary' || kind === 'Summary') {
      series.set(name, new Set([...all, 'quantile']));
      series.set(`${name}_count`, all);
      series.set(`${name}_sum`, all);
    } else series.set(name, all);
  };
  for (const [name, r] of registered) add(name, r.kind, r.labels);
  for (const d of defaults) add(d.name, d.kind, d.labels);
  return series;
}
const series = knownSeries();

interface Selector {
  metric: string;
  labels: string[];
}
/** Parses a PromQL expression; its syntax errors, and the metric selectors it uses. */
function promql(expr: string): { errors: string[]; selectors: Selector[] } {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const selectors: Selector[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: …${expr.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
      if (node.name === 'VectorSelector') {
        const ident = node.node.getChild('Identifier');
        const labels: string[] = [];
        const matchers = node.node.getChild('LabelMatchers');
        for (let c = matchers?.firstChild; c; c = c.nextSibling) {
          const label = c.getChild('LabelName');
          if (label) labels.push(expr.slice(label.from, label.to));
        }
        if (ident) selectors.push({ metric: expr.slice(ident.from, ident.to), labels });
      }
    },
  });
  return { errors, selectors };
}

function checkExpression(where: string, expr: string): void {
  const { errors, selectors } = promql(expr);
  expect(errors, `${where}: ${expr}`).toEqual([]);
  expect(selectors.length, `${where}: names no metric`).toBeGreaterThan(0);
  for (const s of selectors) {
    expect(series.has(s.metric), `${where}: ${s.metric} is not registered by any process`).toBe(true);
    const unknown = s.labels.filter((l) => !series.get(s.metric)!.has(l));
    expect(unknown, `${where}: ${s.metric} has no label(s) ${unknown.join(', ')}`).toEqual([]);
  }
}

describe('the metrics the code registers', () => {
  it('finds them (the scan is not silently empty)', () => {
    for (const name of ['imlab_http_request_duration_seconds', 'imlab_queue_jobs', 'imlab_generation_uncharged_total', 'imlab_auth_deletions_incomplete', 'imlab_ledger_verification_ok']) {
      expect(registered.has(name), name).toBe(true);
    }
    expect(registered.get('imlab_auth_deletions_incomplete')!.labels).toEqual(new Set(['age']));
    expect(registered.size).toBeGreaterThanOrEqual(20);
  });

  it('are prefixed imlab_ and say their unit: counters end in _total, durations and ages in _seconds', () => {
    for (const [name, r] of registered) {
      expect(name, r.file).toMatch(/^imlab_[a-z0-9_]+$/);
      if (r.kind === 'Counter') expect(name, r.file).toMatch(/_total$/);
      else expect(name, r.file).not.toMatch(/_total$/);
      if (/duration|latency|_age_|timestamp/.test(name)) expect(name, r.file).toMatch(/_seconds$/);
    }
  });

  it('the check itself catches an unknown metric, an unknown label and a syntax error', () => {
    expect(() => checkExpression('probe', 'rate(imlab_no_such_metric_total[5m])')).toThrow(/not registered/);
    expect(() => checkExpression('probe', 'max(imlab_auth_deletions_incomplete{agee="overdue"})')).toThrow(/no label/);
    expect(() => checkExpression('probe', 'sum(rate(imlab_queue_jobs[5m])')).toThrow();
  });
});

describe('k8s/components/monitoring/prometheus-rule.yaml', () => {
  const rule = parse(read('k8s/components/monitoring/prometheus-rule.yaml')) as { spec: { groups: { name: string; rules: { alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[] } };
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  const operations = read('docs/operations.md');
  // GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped.
  const anchors = new Set([...operations.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().trim().replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-')));

  it('is a valid PrometheusRule (the Prometheus Operator schema)', () => {
    expect(() => new PrometheusRule(rule as never).validate()).not.toThrow();
  });

  it("passes promtool's rule check (Prometheus's own parser and template checks)", () => {
    const promtool = debianTool('promtool', 'prometheus');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'imlab-rules-')), 'rules.yaml');
    writeFileSync(file, JSON.stringify({ groups: rule.spec.groups }));
    const r = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  it('fires the alerts on the series that mean trouble, and not on healthy ones (promtool test rules)', () => {
    const promtool = debianTool('promtool', 'prometheus');
    const dir = mkdtempSync(path.join(tmpdir(), 'imlab-rules-'));
    // Without annotations: promtool compares them too, and these cases are about when alerts fire
    // (the annotations' templates are checked by `promtool check rules` above).
    const bare = rule.spec.groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _annotations, ...r }) => r) }));
    writeFileSync(path.join(dir, 'rules.yaml'), JSON.stringify({ groups: bare }));
    const ns = 'namespace="imagemakerlab"';
    const tests = [
      {
        // a stuck relay: the oldest unsent row ages; a healthy one stays near 0
        interval: '1m',
        input_series: [
          { series: `imlab_outbox_oldest_unsent_age_seconds{${ns},service="billing",pod="b-1"}`, values: '0+60x15' },
          { series: `imlab_outbox_oldest_unsent_age_seconds{${ns},service="auth",pod="a-1"}`, values: '0x15' },
        ],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'OutboxBacklogOld', exp_alerts: [] },
          { eval_time: '12m', alertname: 'OutboxBacklogOld', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab', service: 'billing' } }] },
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: `imlab_auth_deletions_incomplete{${ns},service="auth",pod="a-1",age="overdue"}`, values: '0 0 1 1' },
          { series: `imlab_auth_deletions_incomplete{${ns},service="auth",pod="a-1",age="recent"}`, values: '3 3 3 3' },
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: 'DeletionsOverdue', exp_alerts: [] },
          { eval_time: '3m', alertname: 'DeletionsOverdue', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab' } }] },
        ],
      },
      {
        // 10 % of the generation API's answers are 5xx for 15 minutes; the ledger's are fine
        interval: '1m',
        input_series: [
          { series: `imlab_http_request_duration_seconds_count{${ns},service="generation",status="200"}`, values: '0+90x20' },
          { series: `imlab_http_request_duration_seconds_count{${ns},service="generation",status="503"}`, values: '0+10x20' },
          { series: `imlab_http_request_duration_seconds_count{${ns},service="credits-ledger",status="200"}`, values: '0+100x20' },
        ],
        alert_rule_test: [{ eval_time: '18m', alertname: 'HighServerErrorRatio', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab', service: 'generation' } }] }],
      },
      {
        interval: '1m',
        input_series: [
          { series: `imlab_generation_uncharged_total{${ns},service="generation",pod="g-1"}`, values: '0 0 0 1 1' },
          { series: `imlab_ledger_verification_ok{${ns},service="credits-ledger",pod="l-1"}`, values: '1 1 0 0 0' },
          { series: `imlab_ledger_account_totals_ok{${ns},service="credits-ledger",pod="l-1"}`, values: '1 1 1 0 0' },
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: 'GenerationsUncharged', exp_alerts: [] },
          { eval_time: '4m', alertname: 'GenerationsUncharged', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab' } }] },
          { eval_time: '1m', alertname: 'LedgerVerificationFailed', exp_alerts: [] },
          { eval_time: '3m', alertname: 'LedgerVerificationFailed', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab' } }] },
          { eval_time: '2m', alertname: 'LedgerAccountTotalsMismatch', exp_alerts: [] },
          { eval_time: '4m', alertname: 'LedgerAccountTotalsMismatch', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab' } }] },
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: `imlab_queue_oldest_waiting_age_seconds{${ns},service="generation",pod="w-1",queue="generation-render"}`, values: '0+60x12' },
          { series: `imlab_queue_oldest_waiting_age_seconds{${ns},service="generation",pod="w-2",queue="generation-render"}`, values: '0+60x12' },
          { series: `imlab_http_problems_total{${ns},service="billing",code="BILLING_WEBHOOK_SIGNATURE_INVALID",status="400"}`, values: '0+1x12' },
          { series: `imlab_metrics_source_unavailable{${ns},service="billing",pod="b-1",source="redis"}`, values: '1x12' },
        ],
        alert_rule_test: [
          { eval_time: '10m', alertname: 'RenderQueueWaitingTooLong', exp_alerts: [{ exp_labels: { severity: 'warning', namespace: 'imagemakerlab' } }] },
          { eval_time: '12m', alertname: 'WebhookSignatureFailures', exp_alerts: [{ exp_labels: { severity: 'warning', namespace: 'imagemakerlab', service: 'billing', code: 'BILLING_WEBHOOK_SIGNATURE_INVALID' } }] },
          { eval_time: '5m', alertname: 'RedisUnreachable', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab', service: 'billing' } }] },
          { eval_time: '5m', alertname: 'PostgresUnreachable', exp_alerts: [] },
        ],
      },
      {
        // the gateway decides without Redis from minute 5 on; before, every decision was Redis's
        interval: '1m',
        input_series: [
          { series: `imlab_gateway_rate_limit_decisions_total{${ns},pod="gw-1",policy="general",decision="allowed"}`, values: '0+600x14' },
          { series: `imlab_gateway_rate_limit_decisions_total{${ns},pod="gw-1",policy="general",decision="limited"}`, values: '0+5x14' },
          { series: `imlab_gateway_rate_limit_decisions_total{${ns},pod="gw-1",policy="general",decision="fail_open_local"}`, values: '0x5 0+300x9' },
          { series: `imlab_gateway_rate_limit_decisions_total{${ns},pod="gw-1",policy="auth",decision="fail_closed"}`, values: '0x5 0+20x9' },
        ],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'GatewayRateLimitDegraded', exp_alerts: [] },
          { eval_time: '10m', alertname: 'GatewayRateLimitDegraded', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'imagemakerlab' } }] },
        ],
      },
    ];
    writeFileSync(path.join(dir, 'tests.yaml'), JSON.stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }));
    const r = spawnSync(promtool, ['test', 'rules', path.join(dir, 'tests.yaml')], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it('has the alerts on-call needs', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'OutboxBacklogOld',
        'RenderQueueWaitingTooLong',
        'GenerationsUncharged',
        'HighServerErrorRatio',
        'QueueJobsFailed',
        'LedgerVerificationFailed',
        'LedgerAccountTotalsMismatch',
        'WebhookSignatureFailures',
        'DeletionsOverdue',
        'RedisUnreachable',
        'GatewayRateLimitDegraded',
        'PostgresUnreachable',
      ]),
    );
  });

  it.each(alerts.map((a) => [a.alert!, a] as const))('%s: parses, names registered metrics, has a severity and a runbook section', (name, alert) => {
    checkExpression(name, alert.expr);
    expect(['critical', 'warning']).toContain(alert.labels?.severity);
    expect(alert.annotations?.summary, name).toBeTruthy();
    const runbook = alert.annotations?.runbook_url ?? '';
    expect(runbook, name).toMatch(/^docs\/operations\.md#[a-z0-9-]+$/);
    expect(anchors.has(runbook.split('#')[1]!), `${name}: docs/operations.md has no section #${runbook.split('#')[1]}`).toBe(true);
  });
});

describe('k8s/components/monitoring/dashboards/imagemakerlab.json', () => {
  type Panel = { title: string; type: string; targets?: { expr: string }[] };
  const dashboard = JSON.parse(read('k8s/components/monitoring/dashboards/imagemakerlab.json')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
  const panels = dashboard.panels.filter((p) => p.type !== 'row');
  // Grafana's variables, as Prometheus would see them after substitution.
  const substitute = (expr: string) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', 'imagemakerlab');

  it('covers the golden signals and the money flow', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(expect.arrayContaining(['Golden signals (per service)', 'Money flow']));
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace']);
  });

  it.each(panels.map((p) => [p.title, p] as const))('%s: every query parses and names registered metrics', (title, panel) => {
    expect(panel.targets?.length, title).toBeGreaterThan(0);
    for (const t of panel.targets ?? []) checkExpression(title, substitute(t.expr));
  });
});

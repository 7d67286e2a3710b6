// The schemas every manifest object is validated against (kubernetes-models: JSON schemas compiled
// from Kubernetes' OpenAPI and from each operator's CRDs): types, required fields, enums and
// formats. A kind without a schema here fails the test. CloudNativePG's Cluster and ScheduledBackup
// come from @kubernetes-models/cloudnative-pg 2.0.0 (published 2026-08-29; generated from
// CloudNativePG's Go API types, postgresql.cnpg.io/v1). Like every schema here, they refuse wrong
// types, values outside an enum and missing required fields; an unknown field name passes them (the
// API server's strict field validation, kubectl's default, would refuse it at apply).
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { ClusterIssuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer';
import { Gateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { ExternalSecret } from '@kubernetes-models/external-secrets/external-secrets.io/v1beta1/ExternalSecret';
import { Cluster } from '@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster';
import { ScheduledBackup } from '@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/ScheduledBackup';

type Model = { apiVersion: string; kind: string; new (data: never): { validate(): void } };
const MODELS: Model[] = [
  ConfigMap,
  PersistentVolumeClaim,
  Secret,
  Service,
  Deployment,
  StatefulSet,
  HorizontalPodAutoscaler,
  PodDisruptionBudget,
  Ingress,
  NetworkPolicy,
  ScaledObject,
  PodMonitor,
  PrometheusRule,
  ServiceMonitor,
  Certificate,
  ClusterIssuer,
  Gateway,
  HTTPRoute,
  ExternalSecret,
  Cluster,
  ScheduledBackup,
] as unknown as Model[];
const byType = new Map(MODELS.map((m) => [`${m.apiVersion} ${m.kind}`, m]));

/** The schema's complaint about `object`, or undefined when it is valid. */
export function validateObject(object: { apiVersion: string; kind: string }): string | undefined {
  const type = `${object.apiVersion} ${object.kind}`;
  const model = byType.get(type);
  if (!model) return `no schema for ${type}`;
  try {
    new model(object as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

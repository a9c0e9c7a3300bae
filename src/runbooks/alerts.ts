/**
 * The labels that standard alerts carry, so lint can tell whether a runbook
 * triggered by one of them can fill its placeholders. The alerts are those of the
 * kubernetes-mixin and node-mixin (shipped by kube-prometheus and
 * kube-prometheus-stack); the labels are those their expressions keep, which
 * every Prometheus setup of these mixins produces. Labels a particular setup adds
 * (`cluster`, `prometheus`, target labels) are not counted: a runbook that needs
 * them names them in `match:` or declares them in `params:`.
 *
 * Beware `instance` on the node alerts: kube-prometheus relabels it to the node
 * name; a setup that keeps `host:port` gives a value no Kubernetes name or URL
 * path segment accepts, and the run is then refused (PARAM_REFUSED).
 */
const POD = ['namespace', 'pod'] as const;
const CONTAINER = ['namespace', 'pod', 'container'] as const;
const DEPLOYMENT = ['namespace', 'deployment'] as const;
const FILESYSTEM = ['instance', 'device', 'fstype', 'mountpoint'] as const;

export const STANDARD_ALERT_LABELS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  // kubernetes-mixin, kubernetes-apps
  KubePodCrashLooping: [...CONTAINER, 'reason'],
  KubePodNotReady: POD,
  KubeContainerWaiting: [...CONTAINER, 'reason'],
  KubeDeploymentReplicasMismatch: DEPLOYMENT,
  KubeDeploymentRolloutStuck: DEPLOYMENT,
  KubeDeploymentGenerationMismatch: DEPLOYMENT,
  KubeStatefulSetReplicasMismatch: ['namespace', 'statefulset'],
  KubeStatefulSetUpdateNotRolledOut: ['namespace', 'statefulset'],
  KubeDaemonSetRolloutStuck: ['namespace', 'daemonset'],
  KubeHpaMaxedOut: ['namespace', 'horizontalpodautoscaler'],
  KubeHpaReplicasMismatch: ['namespace', 'horizontalpodautoscaler'],
  KubeJobFailed: ['namespace', 'job_name'],
  // kubernetes-mixin, kubernetes-resources and kubernetes-storage
  CPUThrottlingHigh: CONTAINER,
  KubeQuotaAlmostFull: ['namespace', 'resource', 'resourcequota'],
  KubePersistentVolumeFillingUp: ['namespace', 'persistentvolumeclaim'],
  // kubernetes-mixin, kubernetes-system-kubelet
  KubeNodeNotReady: ['node'],
  KubeNodeUnreachable: ['node'],
  // node-mixin
  NodeFilesystemSpaceFillingUp: FILESYSTEM,
  NodeFilesystemAlmostOutOfSpace: FILESYSTEM,
  NodeFilesystemFilesFillingUp: FILESYSTEM,
  NodeFilesystemAlmostOutOfFiles: FILESYSTEM,
} satisfies Record<string, readonly string[]>);

/** Every alert has these (Alertmanager routes on them). */
export const ALERT_BASE_LABELS = Object.freeze(['alertname', 'severity'] as const);

export function standardAlertLabels(alertname: string): readonly string[] | undefined {
  return Object.prototype.hasOwnProperty.call(STANDARD_ALERT_LABELS, alertname) ? STANDARD_ALERT_LABELS[alertname] : undefined;
}

{{/*
Names. Every object is "<release>-<component>"; selectors use the instance and component
labels only, which never change across upgrades.
*/}}
{{- define "millionway.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "millionway.selectorLabels" -}}
app.kubernetes.io/name: millionway
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "millionway.labels" -}}
{{ include "millionway.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: millionway
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "millionway.metadata" -}}
name: {{ include "millionway.name" . }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "millionway.labels" . | nindent 2 }}
{{- end -}}

{{/* The cluster DNS name of a Service of the release. */}}
{{- define "millionway.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "millionway.name" .) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{- define "millionway.coordinatorAddress" -}}
{{- printf "%s:%d" (include "millionway.serviceHost" (dict "root" .root "component" "coordinator")) (int .root.Values.coordinator.port) -}}
{{- end -}}

{{/* Comma-separated shard server addresses: one per StatefulSet pod, through the headless Service. */}}
{{- define "millionway.shardServerAddresses" -}}
{{- $root := .root -}}
{{- $service := include "millionway.serviceHost" (dict "root" $root "component" "shard-servers") -}}
{{- $pod := include "millionway.name" (dict "root" $root "component" "shard-server") -}}
{{- $addresses := list -}}
{{- range $i := until (int $root.Values.shardServers.replicas) -}}
{{- $addresses = append $addresses (printf "%s-%d.%s:%d" $pod $i $service (int $root.Values.shardServers.port)) -}}
{{- end -}}
{{- join "," $addresses -}}
{{- end -}}

{{- define "millionway.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .image .root.Values.image.tag -}}
{{- end -}}

{{/* Pod-level security: a numeric non-root user (the images' own), RuntimeDefault seccomp. */}}
{{- define "millionway.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "millionway.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Probes on the metrics port: /healthz (alive) and /readyz (serving). */}}
{{- define "millionway.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* The CA clients verify servers with, when TLS is on. */}}
{{- define "millionway.clientTlsEnv" -}}
{{- if .Values.tls -}}
- name: MW_TLS_CA
  value: /etc/millionway/tls/ca.pem
{{- else -}}
- name: MW_ALLOW_PLAINTEXT_TOKEN
  value: "true"
{{- end }}
{{- end -}}

{{/* What a server presents, when TLS is on. */}}
{{- define "millionway.serverTlsEnv" -}}
{{- if .Values.tls -}}
- name: MW_TLS_CERT
  value: /etc/millionway/tls/tls.pem
- name: MW_TLS_KEY
  value: /etc/millionway/tls/tls.key
{{- end }}
{{- end -}}

{{/* Volumes every pod has: /tmp, and the TLS material when TLS is on. */}}
{{- define "millionway.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- if .Values.tls }}
- name: tls
  secret:
    secretName: {{ .Values.secrets.tls }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "millionway.commonMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.tls }}
- name: tls
  mountPath: /etc/millionway/tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* A Secret volume with one role's token only. */}}
{{- define "millionway.tokenVolume" -}}
- name: token
  secret:
    secretName: {{ .root.Values.secrets.tokens }}
    defaultMode: 0440
    items:
      - key: {{ .role }}.token
        path: {{ .role }}.token
{{- end -}}

{{/* NetworkPolicy peers: pods of one component of the release; Prometheus's namespace. */}}
{{- define "millionway.peer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .root.Release.Name }}
      app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- define "millionway.prometheusPeer" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.prometheus.namespace }}
{{- end -}}

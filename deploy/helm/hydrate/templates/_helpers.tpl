{{/* Names, labels and the env every Hydrate container shares. */}}

{{- define "hydrate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hydrate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* hydrate.component: fullname-component, e.g. release-hydrate-sink. */}}
{{- define "hydrate.component" -}}
{{- printf "%s-%s" (include "hydrate.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hydrate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: hydrate
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "hydrate.selectorLabels" . }}
{{- end -}}

{{- define "hydrate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hydrate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hydrate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "hydrate.secretName" -}}
{{- default (printf "%s-tokens" (include "hydrate.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "hydrate.serviceAccountName" -}}
{{- $sa := .values.serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "hydrate.component" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* Pod annotations: Prometheus scraping, and a checksum that rolls pods
     when the Kafka properties change. */}}
{{- define "hydrate.podAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .root.Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}
checksum/kafka: {{ include (print .root.Template.BasePath "/configmap-kafka.yaml") .root | sha256sum }}
{{- end -}}

{{/* Env shared by every service: logs, metrics listener, OTEL_*, AWS. */}}
{{- define "hydrate.commonEnv" -}}
- name: HYDRATE_LOG_FORMAT
  value: {{ .root.Values.logFormat | quote }}
- name: RUST_LOG
  value: {{ .root.Values.logLevel | quote }}
- name: HYDRATE_METRICS_LISTEN
  value: {{ printf "0.0.0.0:%v" .root.Values.metrics.port | quote }}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: AWS_REGION
  value: {{ .root.Values.aws.region | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "hydrate-%s" .component | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=hydrate,k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)%s" (ternary (printf ",%s" .root.Values.otel.resourceAttributes) "" (ne .root.Values.otel.resourceAttributes "")) | quote }}
{{- with .root.Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $.root.Values.otel.protocol | quote }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $.root.Values.otel.samplerRatio | quote }}
{{- end }}
{{- range $k, $v := .root.Values.otel.extraEnv }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .root.Values.kafka.bootstrapServers | quote }}
- name: HYDRATE_KAFKA_PROPERTIES_FILE
  value: /etc/hydrate/kafka.properties
{{- range $k, $v := .values.extraEnv }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Probes on the metrics listener. */}}
{{- define "hydrate.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 5
  failureThreshold: 2
startupProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 2
  failureThreshold: 60
{{- end -}}

{{/* A data-plane Deployment (source or sink), its metrics Service and HPA.
     Called with (dict "root" $ "component" "source" "values" .Values.source
     "binary" "hydrate-source" "extraEnv" (list ...)). */}}
{{- define "hydrate.worker" -}}
{{- $root := .root -}}
{{- $v := .values -}}
{{- $cpCtx := dict "root" $root "component" "control-plane" -}}
{{- $scheme := ternary "https" "http" (ne $root.Values.controlPlane.tlsSecret "") -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "hydrate.component" . }}
  labels:
    {{- include "hydrate.labels" . | nindent 4 }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "hydrate.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "hydrate.labels" . | nindent 8 }}
      annotations:
        {{- include "hydrate.podAnnotations" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "hydrate.serviceAccountName" . }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      # Time to finish the current batch, abort open uploads, flush telemetry.
      terminationGracePeriodSeconds: 60
      containers:
        - name: {{ .component }}
          image: {{ include "hydrate.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["/usr/bin/tini", "--", {{ .binary | quote }}]
          ports:
            - {name: metrics, containerPort: {{ $root.Values.metrics.port }}, protocol: TCP}
          env:
            - name: HYDRATE_ENDPOINT
              value: {{ printf "%s://%s:%v" $scheme (include "hydrate.component" $cpCtx) $root.Values.controlPlane.grpcPort | quote }}
            - name: HYDRATE_WORKER_ID
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: HYDRATE_WORKER_TOKEN
              valueFrom:
                secretKeyRef: {name: {{ include "hydrate.secretName" $root }}, key: HYDRATE_WORKER_TOKEN}
            {{- with .extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- include "hydrate.commonEnv" . | nindent 12 }}
          {{- include "hydrate.probes" . | nindent 10 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - {name: kafka, mountPath: /etc/hydrate/kafka.properties, subPath: kafka.properties, readOnly: true}
            - {name: tmp, mountPath: /tmp}
            {{- with .volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: kafka
          configMap: {name: {{ include "hydrate.fullname" $root }}-kafka}
        - name: tmp
          emptyDir: {}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "hydrate.component" . }}
  labels:
    {{- include "hydrate.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "hydrate.selectorLabels" . | nindent 4 }}
  ports:
    - {name: metrics, port: {{ $root.Values.metrics.port }}, targetPort: metrics, protocol: TCP}
{{- if $v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "hydrate.component" . }}
  labels:
    {{- include "hydrate.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "hydrate.component" . }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}}
{{- end }}
{{- end -}}

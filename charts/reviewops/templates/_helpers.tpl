{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "reviewops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: the release name when it already contains the chart name. */}}
{{- define "reviewops.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "reviewops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of a release, so never the chart version. */}}
{{- define "reviewops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "reviewops.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Every resource's labels. Call with (dict "root" $ "component" "api"); component may be empty. */}}
{{- define "reviewops.labels" -}}
helm.sh/chart: {{ include "reviewops.chart" .root }}
{{ include "reviewops.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: reviewops
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "reviewops.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "reviewops.secretName" -}}
{{- default (printf "%s-secrets" (include "reviewops.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "reviewops.configName" -}}
{{- printf "%s-config" (include "reviewops.fullname" .) }}
{{- end }}

{{/*
  The ServiceAccount a component runs as. Without `serviceAccount.create` a name is required: falling back to
  the namespace's `default` would bind the operator's rights to every pod that runs as `default`.
*/}}
{{- define "reviewops.serviceAccountName" -}}
{{- if .root.Values.serviceAccount.create }}
{{- printf "%s-%s" (include "reviewops.fullname" .root) .component }}
{{- else }}
{{- $name := required "serviceAccount.name is required when serviceAccount.create=false (the chart never binds the operator's rights to the namespace's default ServiceAccount)" .root.Values.serviceAccount.name }}
{{- if eq $name "default" }}
{{- fail "serviceAccount.name must not be \"default\": the operator's rights would go to every pod of the namespace that runs as default" }}
{{- end }}
{{- $name }}
{{- end }}
{{- end }}

{{/*
  Scheduling of the API: the user's affinity/spread if given, else soft anti-affinity by node and a soft
  spread over zones, so one node or zone going away does not take every webhook receiver with it.
*/}}
{{- define "reviewops.apiScheduling" -}}
{{- $selector := include "reviewops.selectorLabels" (dict "root" . "component" "api") | fromYaml }}
{{- if .Values.api.affinity }}
affinity:
  {{- toYaml .Values.api.affinity | nindent 2 }}
{{- else if eq .Values.api.podAntiAffinity "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- toYaml $selector | nindent 14 }}
{{- else if eq .Values.api.podAntiAffinity "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- toYaml $selector | nindent 12 }}
{{- end }}
{{- if .Values.api.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml .Values.api.topologySpreadConstraints | nindent 2 }}
{{- else if .Values.api.zoneSpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- toYaml $selector | nindent 8 }}
{{- end }}
{{- end }}

{{- define "reviewops.policyName" -}}
{{- default (include "reviewops.fullname" .) .Values.reviewPolicy.name }}
{{- end }}

{{/* Where the GitHub App key is mounted; REVIEWOPS_GITHUB_PRIVATE_KEY_FILE points here. */}}
{{- define "reviewops.githubKeyDir" -}}/var/run/secrets/reviewops/github{{- end }}

{{/* The GitHub App key is mounted when an App id is configured. */}}
{{- define "reviewops.githubKeyMounted" -}}
{{- if not (kindIs "invalid" .Values.config.githubAppId) }}true{{- end }}
{{- end }}

{{/* One secret key as an env var: (dict "root" $ "name" "REVIEWOPS_X" "key" "x"). */}}
{{- define "reviewops.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "reviewops.secretName" .root }}
      key: {{ .key }}
{{- end }}

{{/*
  Environment of a long-running process: the ConfigMap plus only the credentials that component uses
  (least privilege): (dict "root" $ "component" "api").
  api: database, broker, webhook secrets, admin token. worker: database, broker, LLM key, GitHub App key file
  (the operator's replay Jobs copy the worker's pod, so they get the same). operator: broker only.
*/}}
{{- define "reviewops.env" -}}
{{- $root := .root }}
{{- $c := .component }}
envFrom:
  - configMapRef:
      name: {{ include "reviewops.configName" $root }}
env:
{{- if ne $c "operator" }}
{{ include "reviewops.secretEnv" (dict "root" $root "name" "REVIEWOPS_DATABASE_URL" "key" "database-url") }}
{{- end }}
{{ include "reviewops.secretEnv" (dict "root" $root "name" "REVIEWOPS_REDIS_URL" "key" "redis-url") }}
{{- $files := $root.Values.secrets.mountAsFiles }}
{{- if eq $c "api" }}
{{- if $files }}
- name: REVIEWOPS_WEBHOOK_SECRETS_FILE
  value: /var/run/secrets/reviewops/webhook-secrets
- name: REVIEWOPS_ADMIN_TOKEN_FILE
  value: /var/run/secrets/reviewops/admin-token
{{- else }}
{{ include "reviewops.secretEnv" (dict "root" $root "name" "REVIEWOPS_WEBHOOK_SECRETS" "key" "webhook-secrets") }}
{{ include "reviewops.secretEnv" (dict "root" $root "name" "REVIEWOPS_ADMIN_TOKEN" "key" "admin-token") }}
{{- end }}
{{- end }}
{{- if eq $c "worker" }}
{{- if $files }}
- name: REVIEWOPS_LLM_API_KEY_FILE
  value: /var/run/secrets/reviewops/llm-api-key
{{- else }}
{{ include "reviewops.secretEnv" (dict "root" $root "name" "REVIEWOPS_LLM_API_KEY" "key" "llm-api-key") }}
{{- end }}
{{- if include "reviewops.githubKeyMounted" $root }}
- name: REVIEWOPS_GITHUB_PRIVATE_KEY_FILE
  value: {{ printf "%s/private-key.pem" (include "reviewops.githubKeyDir" $root) | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by every pod. */}}
{{- define "reviewops.podCommon" -}}
{{- /* Service links would inject REVIEWOPS_<SERVICE>_PORT=tcp://... variables into the settings' namespace. */}}
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A writable /tmp (the root filesystem is read-only) and, for the worker, the GitHub App key. */}}
{{- define "reviewops.volumes" -}}
volumes:
  - name: tmp
    emptyDir: {}
{{- if and .root.Values.secrets.mountAsFiles (has .component (list "api" "worker")) }}
  {{- /* A whole-volume mount (never subPath), so the kubelet updates the files in place on rotation. */}}
  - name: reviewops-secrets
    secret:
      secretName: {{ include "reviewops.secretName" .root }}
      defaultMode: 0440
      items:
        {{- if eq .component "api" }}
        - {key: webhook-secrets, path: webhook-secrets}
        - {key: admin-token, path: admin-token}
        {{- else }}
        - {key: llm-api-key, path: llm-api-key}
        {{- end }}
{{- end }}
{{- if and (eq .component "worker") (include "reviewops.githubKeyMounted" .root) }}
  - name: github-app-key
    secret:
      secretName: {{ include "reviewops.secretName" .root }}
      defaultMode: 0440
      items:
        - key: github-private-key
          path: private-key.pem
{{- end }}
{{- end }}

{{- define "reviewops.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if and .root.Values.secrets.mountAsFiles (has .component (list "api" "worker")) }}
  - name: reviewops-secrets
    mountPath: /var/run/secrets/reviewops
    readOnly: true
{{- end }}
{{- if and (eq .component "worker") (include "reviewops.githubKeyMounted" .root) }}
  - name: github-app-key
    mountPath: {{ include "reviewops.githubKeyDir" .root }}
    readOnly: true
{{- end }}
{{- end }}

{{/*
  Pod annotations that roll the pods when settings or credentials change. Every secret value read from an
  environment variable counts (the admin token too: a rotated token must replace the old one); with
  secrets.mountAsFiles the three file-mounted secrets are left out, as the processes re-read those files.
*/}}
{{- define "reviewops.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
{{- $secrets := .Values.secrets }}
{{- if $secrets.mountAsFiles }}
{{- $secrets = omit $secrets "webhookSecrets" "adminToken" "llmApiKey" }}
{{- end }}
checksum/secrets: {{ $secrets | toJson | sha256sum }}
{{- end }}
{{- end }}

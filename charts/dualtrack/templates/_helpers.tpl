{{/* The release's full name: fullnameOverride, else "<release>-dualtrack", at most 63 characters. */}}
{{- define "dualtrack.fullname" -}}
{{- .Values.fullnameOverride | default (printf "%s-dualtrack" .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dualtrack.selectorLabels" -}}
app.kubernetes.io/name: dualtrack
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dualtrack.labels" -}}
{{ include "dualtrack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dualtrack.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "dualtrack.fullname" .) -}}
{{- end -}}

{{/* The Secret holding the PostgreSQL URL. */}}
{{- define "dualtrack.postgresSecret" -}}
{{- .Values.store.postgres.existingSecret | default (printf "%s-store" (include "dualtrack.fullname" .)) -}}
{{- end -}}

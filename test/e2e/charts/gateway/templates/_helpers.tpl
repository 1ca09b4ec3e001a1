{{- define "gateway.name" -}}
{{- .Values.name | default .Release.Name -}}
{{- end }}
{{/* The real chart's selector rule: labels.app / labels.istio win, else the name (without "istio-"). */}}
{{- define "gateway.selectorLabels" -}}
app: {{ .Values.labels.app | default (include "gateway.name" .) | quote }}
istio: {{ .Values.labels.istio | default (include "gateway.name" . | trimPrefix "istio-") | quote }}
{{- end }}

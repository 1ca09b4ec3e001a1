{{- define "istiod.name" -}}
istiod{{- if .Values.revision }}-{{ .Values.revision }}{{- end }}
{{- end }}
{{- define "istiod.replicas" -}}
{{- if .Values.autoscaleEnabled }}{{ max .Values.autoscaleMin .Values.replicaCount }}{{- else }}{{ .Values.replicaCount }}{{- end }}
{{- end }}

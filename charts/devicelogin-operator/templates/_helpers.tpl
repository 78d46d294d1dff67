{{/* The release's name for this chart, cut to 63 characters as Kubernetes names must be. */}}
{{- define "devicelogin-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "devicelogin-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "devicelogin-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels that select the manager's pods. */}}
{{- define "devicelogin-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end -}}

{{/* The manager's ServiceAccount. */}}
{{- define "devicelogin-operator.serviceAccountName" -}}
{{- include "devicelogin-operator.fullname" . -}}
{{- end -}}

{{/* The namespace that ClusterOAuthProvider client secrets are read from. */}}
{{- define "devicelogin-operator.clusterResourceNamespace" -}}
{{- default .Release.Namespace .Values.clusterResourceNamespace -}}
{{- end -}}

{{/*
The manager's RBAC rules: files/manager-role.yaml is a copy of config/rbac/role.yaml (make
sync-chart; hack/check-chart.sh fails when they differ). With scope "all" every rule; "namespaced"
keeps only the namespaced resources (for a Role in each watched namespace); "cluster" only the
cluster-scoped ones (ClusterOAuthProviders, for a ClusterRole).
*/}}
{{- define "devicelogin-operator.managerRules" -}}
{{- $scope := .scope -}}
{{- $clusterScoped := list "clusteroauthproviders" -}}
{{- $rules := list -}}
{{- range (.root.Files.Get "files/manager-role.yaml" | fromYaml).rules -}}
{{- $resources := list -}}
{{- range .resources -}}
{{- $isCluster := has (first (splitList "/" .)) $clusterScoped -}}
{{- if or (eq $scope "all") (and $isCluster (eq $scope "cluster")) (and (not $isCluster) (eq $scope "namespaced")) -}}
{{- $resources = append $resources . -}}
{{- end -}}
{{- end -}}
{{- if $resources -}}
{{- $rules = append $rules (merge (dict "resources" $resources) (omit . "resources")) -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/*
The broker's config.yaml: the user's `config` deep-merged with the keys the chart owns (docs/configuration.md).
Owned: server.address, server.healthAddress and server.tls (from server.*), metrics.host/port (from metrics.*),
store.url (from store.*); auth.tokens gains one "file:" entry per auth.tokens item of the values. Setting an
owned key under `config` fails here, naming the value to use instead, rather than being silently overridden.
*/}}
{{- define "dualtrack.config" -}}
{{- $user := deepCopy (.Values.config | default dict) -}}
{{- range $section := list "server" "metrics" "store" "auth" "reconciler" -}}
{{- if and (hasKey $user $section) (not (kindIs "map" (get $user $section))) (not (kindIs "invalid" (get $user $section))) -}}
{{- fail (printf "config.%s must be a mapping" $section) -}}
{{- end -}}
{{- end -}}
{{- $server := get $user "server" | default dict -}}
{{- range $key, $use := dict "address" "server.grpcPort" "healthAddress" "server.healthPort and server.tls.enabled" "tls" "server.tls" -}}
{{- if hasKey $server $key -}}
{{- fail (printf "config.server.%s is set by the chart; use %s instead (the broker would otherwise listen on the wrong address or without its certificates)" $key $use) -}}
{{- end -}}
{{- end -}}
{{- $metrics := get $user "metrics" | default dict -}}
{{- range $key := list "host" "port" -}}
{{- if hasKey $metrics $key -}}
{{- fail (printf "config.metrics.%s is set by the chart; use metrics.port instead" $key) -}}
{{- end -}}
{{- end -}}
{{- $store := get $user "store" | default dict -}}
{{- if hasKey $store "url" -}}
{{- fail "config.store.url is set by the chart; use store.kind with store.postgres.existingSecret (or store.postgres.url)" -}}
{{- end -}}
{{- $ownedServer := dict "address" (printf "0.0.0.0:%v" .Values.server.grpcPort) -}}
{{- if .Values.server.tls.enabled -}}
{{- $tls := dict "certFile" "/var/run/dualtrack/tls/tls.crt" "keyFile" "/var/run/dualtrack/tls/tls.key" -}}
{{- if .Values.server.tls.clientCa -}}
{{- $_ := set $tls "clientCaFile" "/var/run/dualtrack/tls/ca.crt" -}}
{{- end -}}
{{- $_ := set $ownedServer "tls" $tls -}}
{{- $_ := set $ownedServer "healthAddress" (printf "0.0.0.0:%v" .Values.server.healthPort) -}}
{{- end -}}
{{- $url := "sqlite:////var/lib/dualtrack/dualtrack.sqlite" -}}
{{- if eq .Values.store.kind "postgres" -}}
{{- $url = "${DUALTRACK_STORE_URL}" -}}
{{- end -}}
{{- $auth := get $user "auth" | default dict -}}
{{- $tokens := deepCopy (get $auth "tokens" | default dict) -}}
{{- range $token, $tenant := $tokens -}}
{{- if not (or (hasPrefix "sha256:" $token) (hasPrefix "file:" $token) (hasPrefix "env:" $token)) -}}
{{- fail (printf "config.auth.tokens: a plain token would sit in the ConfigMap; put it in a Secret and list it under auth.tokens (tenant %s)" $tenant) -}}
{{- end -}}
{{- end -}}
{{- range $i, $item := .Values.auth.tokens -}}
{{- $_ := set $tokens (printf "file:/var/run/dualtrack/tokens/%d/%s" $i $item.key) $item.tenant -}}
{{- end -}}
{{- $owned := dict "server" $ownedServer "metrics" (dict "host" "0.0.0.0" "port" .Values.metrics.port) "store" (dict "url" $url) -}}
{{- if $tokens -}}
{{- $_ := set $owned "auth" (dict "tokens" $tokens) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $user $owned) -}}
{{- end -}}

{{/* server.workers of the merged config: one /metrics port per API process (metrics.port + i). */}}
{{- define "dualtrack.workers" -}}
{{- $server := get (.Values.config | default dict) "server" | default dict -}}
{{- get $server "workers" | default 1 | int -}}
{{- end -}}

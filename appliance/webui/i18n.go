package webui

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// messages are the pages' texts by language and key.
var messages = map[string]map[string]string{
	"es": {
		"site":                  "thecure",
		"nav.catalogue":         "Catálogo",
		"nav.admin":             "Administración",
		"nav.login":             "Entrar",
		"nav.logout":            "Salir",
		"cat.live":              "En directo ahora",
		"cat.channels":          "Canales",
		"chan.now":              "Ahora: %s (hasta las %s)",
		"chan.next":             "A las %s: %s",
		"chan.nothing":          "Nada en antena",
		"chan.m3u":              "Lista de canales (M3U) para VLC, Kodi, Jellyfin o TiviMate",
		"chan.epg":              "Guía de programación (XMLTV)",
		"cat.movies":            "Películas",
		"cat.series":            "Series",
		"cat.music":             "Música",
		"cat.season":            "Temporada %d",
		"cat.episode":           "Episodio %d",
		"cat.empty":             "El catálogo está vacío. Sube vídeos o música por FTPS y aparecerán aquí.",
		"cat.viewers":           "%d espectadores",
		"cat.unknown":           "Desconocido",
		"cat.viewer":            "1 espectador",
		"cat.cover":             "Portada",
		"watch.quality":         "Calidad",
		"watch.auto":            "Automática",
		"watch.failed":          "Este título no se ha podido preparar. El administrador tiene los detalles.",
		"live.ended":            "La emisión ha terminado.",
		"state.up":              "en marcha",
		"state.down":            "caído",
		"state.stopping":        "parando",
		"state.stopped":         "parado",
		"state.failed":          "fallido",
		"state.degraded":        "degradado",
		"state.starting":        "arrancando",
		"state.disabled":        "desactivado",
		"state.uploading":       "subiendo",
		"state.pending":         "en cola",
		"state.running":         "procesando",
		"state.done":            "hecho",
		"state.queued":          "en cola",
		"state.processing":      "procesando",
		"state.ready":           "listo",
		"state.missing":         "falta el fichero",
		"watch.back":            "Volver al catálogo",
		"watch.notready":        "Este título aún no está listo.",
		"watch.noplayer":        "Tu navegador no puede reproducir HLS.",
		"live.badge":            "EN DIRECTO",
		"live.offline":          "Esta emisión no está en directo ahora mismo.",
		"login.title":           "Entrar",
		"login.user":            "Usuario",
		"login.password":        "Contraseña",
		"login.submit":          "Entrar",
		"login.bad":             "Usuario o contraseña incorrectos.",
		"login.banned":          "Demasiados intentos fallidos. Inténtalo más tarde.",
		"login.notadmin":        "Tu usuario no pertenece al grupo admin.",
		"charts.title":          "Gráficas de las últimas 24 h",
		"charts.lasthour":       "Última hora",
		"charts.more":           "más gráficas",
		"charts.noscript":       "Las gráficas necesitan JavaScript; los datos están en /api/charts.",
		"chart.cpu":             "CPU (% de un núcleo): thecure y ffmpeg",
		"chart.memory":          "Memoria residente",
		"chart.disk":            "Disco libre por sistema de ficheros",
		"chart.net":             "Red por protocolo",
		"chart.viewers":         "Espectadores en directo",
		"chart.ftp":             "Sesiones FTP",
		"chart.logins":          "Accesos y bloqueos por minuto",
		"chart.transcode":       "Cola de transcodificación y velocidad",
		"chart.backup":          "Última copia de seguridad",
		"manage.title":          "Usuarios y títulos",
		"manage.users":          "Usuarios",
		"manage.titles":         "Títulos",
		"manage.audit":          "Registro de acciones",
		"manage.groups":         "Grupos",
		"manage.quota":          "Cuota (MiB, 0: la general)",
		"manage.defquota":       "cuota general",
		"manage.pwauto":         "vacía: se genera una",
		"manage.add":            "Añadir usuario",
		"manage.setgroups":      "Cambiar grupos",
		"manage.setquota":       "Cambiar cuota",
		"manage.reset":          "Nueva contraseña",
		"manage.delete":         "Borrar",
		"manage.retry":          "Reintentar",
		"manage.remove":         "Quitar",
		"manage.done":           "Hecho: %s %s.",
		"manage.failed":         "No se pudo %s %s: %s",
		"manage.password":       "Contraseña nueva de %s (solo se muestra ahora):",
		"nav.manage":            "Usuarios",
		"support.title":         "Soporte: historial y estadísticas",
		"support.user":          "Usuario",
		"support.from":          "Desde",
		"support.to":            "Hasta",
		"support.search":        "Buscar",
		"support.show":          "Mostrar",
		"support.bad":           "Filtro no válido: %s.",
		"support.stats":         "Estadísticas del periodo",
		"support.conversations": "Conversaciones",
		"support.resolved":      "Resueltas sin técnico",
		"support.firstreply":    "Mediana hasta la primera respuesta de un técnico",
		"support.open":          "Tickets abiertos",
		"support.oldest":        "el más antiguo",
		"support.median":        "mediana",
		"support.perday":        "Conversaciones por día",
		"support.answers":       "Respuestas del menú más usadas",
		"support.history":       "Conversaciones",
		"support.lines":         "líneas",
		"support.tickets":       "Tickets",
		"support.isopen":        "abierto",
		"support.closed":        "cerrado",
		"nav.support":           "Soporte",
		"admin.title":           "Estado del sistema",
		"admin.services":        "Servicios",
		"admin.live":            "Emisiones en directo",
		"admin.queue":           "Cola de subidas y transcodificación",
		"admin.failures":        "Fallos recientes",
		"admin.disk":            "Disco",
		"admin.tickets":         "Tickets de soporte abiertos",
		"admin.relays":          "Relés RTMP",
		"admin.norelays":        "Ningún relé activo: los envíos ([[rtmp.push]]) aparecen mientras su emisión está en directo.",
		"relay.push":            "envío",
		"relay.pull":            "recepción",
		"col.kind":              "Tipo",
		"col.stream":            "Emisión",
		"col.target":            "Servidor",
		"col.reconnects":        "Reconexiones",
		"col.bytes":             "Datos",
		"col.lasterror":         "Último error",
		"state.connecting":      "conectando",
		"state.retrying":        "reintentando",
		"admin.none":            "Nada.",
		"admin.na":              "No disponible.",
		"admin.refresh":         "Se actualiza sola cada 5 s.",
		"admin.user":            "Sesión de %s",
		"col.name":              "Nombre",
		"col.state":             "Estado",
		"col.since":             "Desde",
		"col.detail":            "Detalle",
		"col.viewers":           "Espectadores",
		"col.resolution":        "Resolución",
		"col.bitrate":           "Bitrate",
		"col.uptime":            "En directo desde",
		"col.source":            "Fichero",
		"col.progress":          "Progreso",
		"col.speed":             "Velocidad",
		"col.eta":               "Queda",
		"col.error":             "Error",
		"col.used":              "Usado",
		"col.free":              "Libre",
		"col.size":              "Tamaño",
		"col.user":              "Usuario",
		"col.subject":           "Asunto",
		"col.opened":            "Abierto",
		"err.notfound":          "No encontrado.",
		"err.forbidden":         "Acceso denegado: hace falta un usuario del grupo admin.",
		"err.csrf":              "El formulario ha caducado; vuelve a cargar la página.",
		"err.login":             "Hace falta iniciar sesión.",
		"err.internal":          "Error interno.",
	},
	"en": {
		"site":                  "thecure",
		"nav.catalogue":         "Catalogue",
		"nav.admin":             "Admin",
		"nav.login":             "Log in",
		"nav.logout":            "Log out",
		"cat.live":              "Live now",
		"cat.channels":          "Channels",
		"chan.now":              "Now: %s (until %s)",
		"chan.next":             "At %s: %s",
		"chan.nothing":          "Nothing on air",
		"chan.m3u":              "Channel list (M3U) for VLC, Kodi, Jellyfin or TiviMate",
		"chan.epg":              "Programme guide (XMLTV)",
		"cat.movies":            "Films",
		"cat.series":            "Series",
		"cat.music":             "Music",
		"cat.season":            "Season %d",
		"cat.episode":           "Episode %d",
		"cat.empty":             "The catalogue is empty. Upload videos or music over FTPS and they will show up here.",
		"cat.viewers":           "%d viewers",
		"cat.unknown":           "Unknown",
		"cat.viewer":            "1 viewer",
		"cat.cover":             "Cover",
		"watch.quality":         "Quality",
		"watch.auto":            "Auto",
		"watch.failed":          "This title could not be prepared. The administrator has the details.",
		"live.ended":            "The stream has ended.",
		"state.up":              "up",
		"state.down":            "down",
		"state.stopping":        "stopping",
		"state.stopped":         "stopped",
		"state.failed":          "failed",
		"state.degraded":        "degraded",
		"state.starting":        "starting",
		"state.disabled":        "disabled",
		"state.uploading":       "uploading",
		"state.pending":         "queued",
		"state.running":         "processing",
		"state.done":            "done",
		"state.queued":          "queued",
		"state.processing":      "processing",
		"state.ready":           "ready",
		"state.missing":         "file missing",
		"watch.back":            "Back to the catalogue",
		"watch.notready":        "This title is not ready yet.",
		"watch.noplayer":        "Your browser cannot play HLS.",
		"live.badge":            "LIVE",
		"live.offline":          "This stream is not live right now.",
		"login.title":           "Log in",
		"login.user":            "User",
		"login.password":        "Password",
		"login.submit":          "Log in",
		"login.bad":             "Wrong user name or password.",
		"login.banned":          "Too many failed attempts. Try again later.",
		"login.notadmin":        "Your user is not in the admin group.",
		"charts.title":          "Charts of the last 24 h",
		"charts.lasthour":       "Last hour",
		"charts.more":           "more charts",
		"charts.noscript":       "The charts need JavaScript; the data is at /api/charts.",
		"chart.cpu":             "CPU (% of one core): thecure and ffmpeg",
		"chart.memory":          "Resident memory",
		"chart.disk":            "Free disk per file system",
		"chart.net":             "Network per protocol",
		"chart.viewers":         "Live viewers",
		"chart.ftp":             "FTP sessions",
		"chart.logins":          "Logins and bans per minute",
		"chart.transcode":       "Transcode queue and speed",
		"chart.backup":          "Last backup",
		"manage.title":          "Users and titles",
		"manage.users":          "Users",
		"manage.titles":         "Titles",
		"manage.audit":          "Audit log",
		"manage.groups":         "Groups",
		"manage.quota":          "Quota (MiB, 0: the default)",
		"manage.defquota":       "default quota",
		"manage.pwauto":         "empty: one is made",
		"manage.add":            "Add user",
		"manage.setgroups":      "Set groups",
		"manage.setquota":       "Set quota",
		"manage.reset":          "New password",
		"manage.delete":         "Delete",
		"manage.retry":          "Retry",
		"manage.remove":         "Remove",
		"manage.done":           "Done: %s %s.",
		"manage.failed":         "Could not %s %s: %s",
		"manage.password":       "New password of %s (shown this once):",
		"nav.manage":            "Users",
		"support.title":         "Support: history and statistics",
		"support.user":          "User",
		"support.from":          "From",
		"support.to":            "To",
		"support.search":        "Search",
		"support.show":          "Show",
		"support.bad":           "Invalid filter: %s.",
		"support.stats":         "Statistics of the period",
		"support.conversations": "Conversations",
		"support.resolved":      "Resolved without a technician",
		"support.firstreply":    "Median time to a technician's first reply",
		"support.open":          "Open tickets",
		"support.oldest":        "oldest",
		"support.median":        "median",
		"support.perday":        "Conversations per day",
		"support.answers":       "Most used menu answers",
		"support.history":       "Conversations",
		"support.lines":         "lines",
		"support.tickets":       "Tickets",
		"support.isopen":        "open",
		"support.closed":        "closed",
		"nav.support":           "Support",
		"admin.title":           "System status",
		"admin.services":        "Services",
		"admin.live":            "Live streams",
		"admin.queue":           "Upload and transcode queue",
		"admin.failures":        "Recent failures",
		"admin.disk":            "Disk",
		"admin.tickets":         "Open support tickets",
		"admin.relays":          "RTMP relays",
		"admin.norelays":        "No relay active: pushes ([[rtmp.push]]) show while their stream is live.",
		"relay.push":            "push",
		"relay.pull":            "pull",
		"col.kind":              "Kind",
		"col.stream":            "Stream",
		"col.target":            "Server",
		"col.reconnects":        "Reconnects",
		"col.bytes":             "Data",
		"col.lasterror":         "Last error",
		"state.connecting":      "connecting",
		"state.retrying":        "retrying",
		"admin.none":            "None.",
		"admin.na":              "Not available.",
		"admin.refresh":         "Refreshes itself every 5 s.",
		"admin.user":            "Logged in as %s",
		"col.name":              "Name",
		"col.state":             "State",
		"col.since":             "Since",
		"col.detail":            "Detail",
		"col.viewers":           "Viewers",
		"col.resolution":        "Resolution",
		"col.bitrate":           "Bitrate",
		"col.uptime":            "Live for",
		"col.source":            "File",
		"col.progress":          "Progress",
		"col.speed":             "Speed",
		"col.eta":               "Left",
		"col.error":             "Error",
		"col.used":              "Used",
		"col.free":              "Free",
		"col.size":              "Size",
		"col.user":              "User",
		"col.subject":           "Subject",
		"col.opened":            "Opened",
		"err.notfound":          "Not found.",
		"err.forbidden":         "Access denied: a user of group admin is needed.",
		"err.csrf":              "The form has expired; reload the page.",
		"err.login":             "You need to log in.",
		"err.internal":          "Internal error.",
	},
}

// translator gives the texts of one language.
type translator struct {
	lang string
	msgs map[string]string
}

func newTranslator(lang string) (*translator, error) {
	if lang == "" {
		lang = "es"
	}
	m, ok := messages[lang]
	if !ok {
		return nil, fmt.Errorf("webui: no texts for language %q", lang)
	}
	return &translator{lang: lang, msgs: m}, nil
}

// t returns the text for key, formatted with args; a missing key shows as
// itself, so a gap is visible rather than blank.
func (tr *translator) t(key string, args ...any) string {
	s, ok := tr.msgs[key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// chartLabels are the chart titles for the page's script.
func (tr *translator) chartLabels() map[string]string {
	out := map[string]string{}
	for k, v := range tr.msgs {
		if strings.HasPrefix(k, "chart.") {
			out[k] = v
		}
	}
	return out
}

// state names a service, job or title state in the page's language; an
// unknown one shows as itself (a test keeps every known one translated).
func (tr *translator) state(s string) string {
	if v, ok := tr.msgs["state."+s]; ok {
		return v
	}
	return s
}

// viewers says how many watch a stream.
func (tr *translator) viewers(n int) string {
	if n == 1 {
		return tr.t("cat.viewer")
	}
	return tr.t("cat.viewers", n)
}

// clock writes seconds as h:mm:ss or m:ss.
func clock(sec float64) string {
	if sec <= 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return "–"
	}
	d := time.Duration(sec) * time.Second
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// bitrate writes bit/s in kb/s or Mb/s.
func bitrate(b int64) string {
	switch {
	case b <= 0:
		return "–"
	case b >= 1e6:
		return fmt.Sprintf("%.1f Mb/s", float64(b)/1e6)
	default:
		return fmt.Sprintf("%d kb/s", b/1000)
	}
}

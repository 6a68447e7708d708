package bot

import (
	"strings"

	"thecure/appliance/config"
)

// tree is the decision tree by node id.
type tree map[string]config.MenuNode

func newTree(nodes []config.MenuNode) tree {
	t := tree{}
	for _, n := range nodes {
		t[n.ID] = n
	}
	return t
}

// callbackPrefix marks the callback data of a menu button ("n:<node id>").
const callbackPrefix = "n:"

func callbackData(node string) string { return callbackPrefix + node }

// parseCallback returns the node id a button's callback data points at.
// Callback data comes from the network (any client may forge it): only
// well-formed node ids pass.
func parseCallback(data string) (node string, ok bool) {
	id, found := strings.CutPrefix(data, callbackPrefix)
	if !found || !validID(id) {
		return "", false
	}
	return id, true
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parseCommand splits a message text such as "/allow@thecure_bot 123" into
// the command ("allow", lower case) and its arguments. ok is false when the
// text is not a command or is addressed to another bot (botName is the bot's
// username, without "@"; empty accepts any).
func parseCommand(text, botName string) (cmd string, args []string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", nil, false
	}
	fields := strings.Fields(text[1:])
	if len(fields) == 0 || strings.HasPrefix(text[1:], " ") {
		return "", nil, false
	}
	name, to, addressed := strings.Cut(fields[0], "@")
	if addressed && botName != "" && !strings.EqualFold(to, botName) {
		return "", nil, false
	}
	if len(name) == 0 || len(name) > 32 {
		return "", nil, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "", nil, false
		}
	}
	return strings.ToLower(name), fields[1:], true
}

// escapeMD escapes text for Telegram's (legacy) Markdown parse mode.
func escapeMD(s string) string {
	if !strings.ContainsAny(s, "_*`[") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '_', '*', '`', '[':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// BuiltinMenu is the decision tree used when the config declares no
// [[bot.menu]]: the seed's incidents, in Spanish ("es") or English ("en").
func BuiltinMenu(lang string) []config.MenuNode {
	if lang == "en" {
		return menuEN
	}
	return menuES
}

var menuES = []config.MenuNode{
	{ID: "root", Text: "¿En qué te podemos ayudar? Elige una opción 👇",
		Buttons: []string{"conn", "video", "ftp", "status", "catalogue", "human"}},
	{ID: "conn", Label: "📶 Problemas de conexión", Text: "*Problemas de conexión*\n¿Qué te ocurre?",
		Buttons: []string{"conn_none", "conn_slow"}},
	{ID: "conn_none", Label: "🚫 No tengo conexión", Text: "*Sin conexión*\n" +
		"1. Comprueba que el cable de red o el Wi-Fi están conectados.\n" +
		"2. Reinicia el router: apágalo 30 segundos y vuelve a encenderlo.\n" +
		"3. Abre la página del servidor en el navegador.\n\n" +
		"Si sigue sin funcionar, habla con un técnico.", Buttons: []string{"human"}},
	{ID: "conn_slow", Label: "🐢 Va lento o se corta", Text: "*Conexión lenta*\n" +
		"• Acércate al router o usa cable.\n" +
		"• Cierra descargas y otras emisiones en la misma red.\n" +
		"• Elige una calidad más baja en el reproductor.", Buttons: []string{"human"}},
	{ID: "video", Label: "🎬 Errores al reproducir vídeo", Text: "*Errores de reproducción*\n¿Qué ves?",
		Buttons: []string{"video_nostart", "video_buffer", "video_noaudio"}},
	{ID: "video_nostart", Label: "⛔ El vídeo no arranca", Text: "*El vídeo no arranca*\n" +
		"1. Recarga la página.\n" +
		"2. Si es un directo, comprueba en «Estado del servicio» que la emisión está en marcha.\n" +
		"3. Prueba con otro navegador (Chrome, Firefox o Safari actualizados).", Buttons: []string{"status", "human"}},
	{ID: "video_buffer", Label: "⏳ Se queda cargando", Text: "*Se queda cargando*\n" +
		"Suele ser la red: baja la calidad en el reproductor o prueba con cable. " +
		"Si pasa con todos los vídeos a la vez, puede ser el servidor: consulta su estado.", Buttons: []string{"status", "human"}},
	{ID: "video_noaudio", Label: "🔇 No se oye", Text: "*Sin sonido*\n" +
		"Comprueba que el reproductor y el dispositivo no están en silencio. " +
		"Si solo ocurre con un vídeo, avisa a un técnico para que lo revise.", Buttons: []string{"human"}},
	{ID: "ftp", Label: "📤 Problemas de FTP / subida", Text: "*FTP y subidas*\n¿Qué te ocurre?",
		Buttons: []string{"ftp_login", "ftp_upload", "ftp_missing"}},
	{ID: "ftp_login", Label: "🔑 No puedo entrar", Text: "*No puedo entrar por FTP*\n" +
		"• Usa FTPS explícito (FTP sobre TLS) en el puerto 2121.\n" +
		"• Acepta el certificado del servidor la primera vez.\n" +
		"• Revisa usuario y contraseña; tras varios fallos la dirección se bloquea un rato.", Buttons: []string{"human"}},
	{ID: "ftp_upload", Label: "❌ La subida falla", Text: "*La subida falla*\n" +
		"• Activa el modo pasivo en el cliente.\n" +
		"• Comprueba que subes a una carpeta en la que tienes permiso de escritura.\n" +
		"• Si se corta, vuelve a subir el archivo entero.", Buttons: []string{"human"}},
	{ID: "ftp_missing", Label: "🕵️ Subí un vídeo y no aparece", Text: "*El vídeo no aparece*\n" +
		"Tras la subida, el servidor convierte el vídeo; puede tardar varios minutos. " +
		"En «Estado del servicio» ves la cola de conversión.", Buttons: []string{"status", "human"}},
	{ID: "status", Label: "🩺 Estado del servicio", Action: config.ActionStatus, Text: "*Estado del servicio*"},
	{ID: "catalogue", Label: "🎞 Novedades del catálogo", Action: config.ActionCatalogue, Text: "*Novedades del catálogo*"},
	{ID: "human", Label: "🧑‍🔧 Hablar con un técnico", Action: config.ActionEscalate, Text: "*Hablar con un técnico*"},
}

var menuEN = []config.MenuNode{
	{ID: "root", Text: "How can we help? Pick an option 👇",
		Buttons: []string{"conn", "video", "ftp", "status", "catalogue", "human"}},
	{ID: "conn", Label: "📶 Connection problems", Text: "*Connection problems*\nWhat happens?",
		Buttons: []string{"conn_none", "conn_slow"}},
	{ID: "conn_none", Label: "🚫 No connection", Text: "*No connection*\n" +
		"1. Check the network cable or the Wi-Fi.\n" +
		"2. Restart the router: off for 30 seconds, then on again.\n" +
		"3. Open the server's page in the browser.\n\n" +
		"If it still fails, talk to a technician.", Buttons: []string{"human"}},
	{ID: "conn_slow", Label: "🐢 Slow or dropping", Text: "*Slow connection*\n" +
		"• Move closer to the router or use a cable.\n" +
		"• Stop downloads and other streams on the same network.\n" +
		"• Pick a lower quality in the player.", Buttons: []string{"human"}},
	{ID: "video", Label: "🎬 Video playback errors", Text: "*Playback errors*\nWhat do you see?",
		Buttons: []string{"video_nostart", "video_buffer", "video_noaudio"}},
	{ID: "video_nostart", Label: "⛔ The video does not start", Text: "*The video does not start*\n" +
		"1. Reload the page.\n" +
		"2. For a live stream, check in \"Service status\" that it is on air.\n" +
		"3. Try another up-to-date browser (Chrome, Firefox or Safari).", Buttons: []string{"status", "human"}},
	{ID: "video_buffer", Label: "⏳ It keeps loading", Text: "*It keeps loading*\n" +
		"Usually the network: lower the quality in the player or use a cable. " +
		"If every video does it at once, it may be the server: check its status.", Buttons: []string{"status", "human"}},
	{ID: "video_noaudio", Label: "🔇 No sound", Text: "*No sound*\n" +
		"Check that neither the player nor the device is muted. " +
		"If only one video has no sound, tell a technician.", Buttons: []string{"human"}},
	{ID: "ftp", Label: "📤 FTP / upload problems", Text: "*FTP and uploads*\nWhat happens?",
		Buttons: []string{"ftp_login", "ftp_upload", "ftp_missing"}},
	{ID: "ftp_login", Label: "🔑 I cannot log in", Text: "*I cannot log in over FTP*\n" +
		"• Use explicit FTPS (FTP over TLS) on port 2121.\n" +
		"• Accept the server's certificate the first time.\n" +
		"• Check user name and password; after several failures the address is blocked for a while.", Buttons: []string{"human"}},
	{ID: "ftp_upload", Label: "❌ The upload fails", Text: "*The upload fails*\n" +
		"• Turn on passive mode in the client.\n" +
		"• Check you upload to a folder you may write to.\n" +
		"• If it breaks off, upload the whole file again.", Buttons: []string{"human"}},
	{ID: "ftp_missing", Label: "🕵️ I uploaded a video and it is not there", Text: "*The video is not there*\n" +
		"After an upload the server converts the video; it can take several minutes. " +
		"\"Service status\" shows the conversion queue.", Buttons: []string{"status", "human"}},
	{ID: "status", Label: "🩺 Service status", Action: config.ActionStatus, Text: "*Service status*"},
	{ID: "catalogue", Label: "🎞 What's new in the catalogue", Action: config.ActionCatalogue, Text: "*What's new in the catalogue*"},
	{ID: "human", Label: "🧑‍🔧 Talk to a technician", Action: config.ActionEscalate, Text: "*Talk to a technician*"},
}

// texts are the bot's own words in one language.
type texts struct {
	// alerts: the admin alerts by key (see Bot.Alert), each a format for
	// its arguments
	alerts                                                                        map[string]string
	greeting, help, refusal, slowDown, unknownCommand, useMenu, back, menuChanged string
	ticketOpened, ticketAlready, ticketClosedUser, ticketClosedOp, noTicket       string
	notAvailable, notAdmin, allowed, denied, usageAllow, usageDeny, usageClose    string
	opNewTicket, opClosedByUser, opClosed, opTicketClosed, opNoTickets, opTickets string
	statusServices, statusDown, statusStreams, statusNoStreams, statusQueue       string
	statusBackup, statusNoBackup, catalogueEmpty, catalogueTotal, alertPrefix     string
	queueFmt, viewersFmt, ticketLine, nonText                                     string
	cmdStart, cmdMenu, cmdHelp, cmdStatus, cmdClose                               string
}

var textsES = texts{
	greeting:         "¡Hola, %s! 👋 Soy el asistente de soporte.",
	help:             "*Ayuda*\n/menu: el menú de ayuda\n/status: estado del servicio\n/close: cerrar tu consulta con el técnico\n/help: esta ayuda",
	refusal:          "Lo siento 🙏 este asistente es solo para usuarios autorizados. Si crees que deberías tener acceso, pídeselo al administrador.",
	slowDown:         "Vas muy rápido 🐢 espera un momento, por favor.",
	unknownCommand:   "No conozco esa orden. Escribe /help.",
	useMenu:          "Usa los botones del menú 👇 o escribe /help.",
	back:             "⬅️ Volver al inicio",
	menuChanged:      "Ese menú ya no existe; aquí tienes el actual.",
	ticketOpened:     "🎫 Consulta #%d abierta. Escribe aquí tu problema: un técnico te responderá en este chat. Cuando acabes, /close.",
	ticketAlready:    "🎫 Ya tienes abierta la consulta #%d. Escribe aquí y un técnico te responderá. Para terminar, /close.",
	ticketClosedUser: "✅ Consulta #%d cerrada. ¡Gracias!",
	ticketClosedOp:   "✅ El técnico ha cerrado la consulta #%d. Si necesitas algo más, /menu.",
	noTicket:         "No tienes ninguna consulta abierta.",
	notAvailable:     "no disponible",
	notAdmin:         "Esa orden es solo para administradores.",
	allowed:          "✅ Usuario %d autorizado.",
	denied:           "⛔ Usuario %d sin acceso.",
	usageAllow:       "Uso: /allow ID",
	usageDeny:        "Uso: /deny ID",
	usageClose:       "Uso: /close NÚMERO (o responde /close a un mensaje de la consulta)",
	opNewTicket:      "🎫 Consulta #%d de %s (id %d). Responded a sus mensajes para contestarle; /close %d para cerrarla.",
	opClosedByUser:   "✅ %s ha cerrado la consulta #%d.",
	opClosed:         "✅ Consulta #%d cerrada.",
	opTicketClosed:   "La consulta #%d ya está cerrada.",
	opNoTickets:      "No hay consultas abiertas.",
	opTickets:        "*Consultas abiertas*",
	statusServices:   "%d de %d servicios funcionando",
	statusDown:       "❌ %s: %s",
	statusStreams:    "📡 Directos: %s",
	statusNoStreams:  "ninguno",
	statusQueue:      "🎞 Cola de conversión: %s",
	statusBackup:     "💾 Última copia de seguridad: %s",
	statusNoBackup:   "nunca",
	catalogueEmpty:   "El catálogo está vacío.",
	catalogueTotal:   "%d títulos en total.",
	alertPrefix:      "⚠️ *Alerta*: ",
	alerts: map[string]string{
		AlertTranscodeFailed: "no se pudo convertir %s: %s",
		AlertBackupFailed:    "la copia de seguridad ha fallado: %s",
		AlertBackupDamaged:   "copia de seguridad dañada: %s (haz una nueva con `thecure backup run`)",
		AlertBackupWarning:   "copia de seguridad %s hecha, pero: %s",
		AlertServiceDown:     "el servicio %s está %s: %s",
		AlertDiskFull:        "disco casi lleno: %s libres de %s (%s) en %s",
		AlertPublishFailed:   "no se puede publicar en S3 (se reintenta; el equipo sigue sirviendo): %s",
		AlertChannelTitle:    "canal %s: no se puede leer %s; se salta: %s",
	},
	queueFmt:   "%d pendientes, %d en curso",
	viewersFmt: "%s (%d 👁)",
	ticketLine: "#%d %s (id %d), desde %s",
	nonText:    "[mensaje sin texto]",
	cmdStart:   "Empezar",
	cmdMenu:    "Menú de ayuda",
	cmdHelp:    "Ayuda",
	cmdStatus:  "Estado del servicio",
	cmdClose:   "Cerrar la consulta con el técnico",
}

var textsEN = texts{
	greeting:         "Hello, %s! 👋 I am the support assistant.",
	help:             "*Help*\n/menu: the help menu\n/status: service status\n/close: close your conversation with the technician\n/help: this help",
	refusal:          "Sorry 🙏 this assistant is for authorised users only. If you think you should have access, ask the administrator.",
	slowDown:         "You are going too fast 🐢 please wait a moment.",
	unknownCommand:   "I do not know that command. Type /help.",
	useMenu:          "Use the menu buttons 👇 or type /help.",
	back:             "⬅️ Back to the start",
	menuChanged:      "That menu is gone; here is the current one.",
	ticketOpened:     "🎫 Ticket #%d opened. Describe your problem here: a technician will answer in this chat. When you are done, /close.",
	ticketAlready:    "🎫 Your ticket #%d is open. Write here and a technician will answer. To finish, /close.",
	ticketClosedUser: "✅ Ticket #%d closed. Thank you!",
	ticketClosedOp:   "✅ The technician closed ticket #%d. If you need anything else, /menu.",
	noTicket:         "You have no open ticket.",
	notAvailable:     "not available",
	notAdmin:         "That command is for administrators only.",
	allowed:          "✅ User %d allowed.",
	denied:           "⛔ User %d denied.",
	usageAllow:       "Usage: /allow ID",
	usageDeny:        "Usage: /deny ID",
	usageClose:       "Usage: /close NUMBER (or reply /close to a message of the ticket)",
	opNewTicket:      "🎫 Ticket #%d from %s (id %d). Reply to their messages to answer; /close %d to close it.",
	opClosedByUser:   "✅ %s closed ticket #%d.",
	opClosed:         "✅ Ticket #%d closed.",
	opTicketClosed:   "Ticket #%d is already closed.",
	opNoTickets:      "No open tickets.",
	opTickets:        "*Open tickets*",
	statusServices:   "%d of %d services up",
	statusDown:       "❌ %s: %s",
	statusStreams:    "📡 Live streams: %s",
	statusNoStreams:  "none",
	statusQueue:      "🎞 Transcode queue: %s",
	statusBackup:     "💾 Last backup: %s",
	statusNoBackup:   "never",
	catalogueEmpty:   "The catalogue is empty.",
	catalogueTotal:   "%d titles in all.",
	alertPrefix:      "⚠️ *Alert*: ",
	alerts: map[string]string{
		AlertTranscodeFailed: "transcode of %s failed: %s",
		AlertBackupFailed:    "backup failed: %s",
		AlertBackupDamaged:   "backup damaged: %s (make a new one with `thecure backup run`)",
		AlertBackupWarning:   "backup %s made, but: %s",
		AlertServiceDown:     "service %s is %s: %s",
		AlertDiskFull:        "disk nearly full: %s free of %s (%s) on %s",
		AlertPublishFailed:   "cannot publish to S3 (retrying; this box keeps serving): %s",
		AlertChannelTitle:    "channel %s: %s cannot be read; skipped: %s",
	},
	queueFmt:   "%d pending, %d running",
	viewersFmt: "%s (%d 👁)",
	ticketLine: "#%d %s (id %d), since %s",
	nonText:    "[message without text]",
	cmdStart:   "Start",
	cmdMenu:    "Help menu",
	cmdHelp:    "Help",
	cmdStatus:  "Service status",
	cmdClose:   "Close your ticket with the technician",
}

func textsFor(lang string) *texts {
	if lang == "en" {
		return &textsEN
	}
	return &textsES
}

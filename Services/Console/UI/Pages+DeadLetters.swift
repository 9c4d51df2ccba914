import Foundation
import Runtime

// The services' dead letters (`/dead-letters`), and for admins the forms that replay them.

extension Pages {
    /// How many characters of a dead letter's body are shown.
    static let bodyShown = 600

    /// Dead letters: how many each service holds, then the letters; admins get a replay form per
    /// letter (`POST /dead-letters/<service>/replay`, `id`) and per service (`all=1`).
    public static func deadLetters(_ page: DeadLettersPage, viewer: Viewer) -> String {
        let admin = viewer.role == .admin
        var b = "<h1>Dead letters</h1>\n"
        if let notice = page.notice, !notice.isEmpty { b += "<p class=\"notice\" role=\"status\">\(escape(notice))</p>\n" }

        let services = Set(page.counts.keys).union(page.letters.map(\.service)).sorted()
        b += "<section class=\"card\" id=\"dead-counts\">\n<h2>Per service</h2>\n"
        if services.isEmpty {
            b += "<p class=\"muted\">No service reported.</p>\n"
        } else {
            b += "<table>\n<thead><tr><th scope=\"col\">Service</th><th scope=\"col\" class=\"num\">Dead letters</th>"
            if admin { b += "<th scope=\"col\">Replay</th>" }
            b += "</tr></thead>\n<tbody>\n"
            for service in services {
                let count = page.counts[service]
                b += "<tr data-service=\"\(escape(service))\"><td>\(escape(service))</td><td class=\"num\">\(count.map(String.init) ?? "?")</td>"
                if admin {
                    b += "<td>"
                    if count.map({ $0 > 0 }) ?? true {
                        b += "<form method=\"post\" action=\"\(replayPath(service))\" class=\"inline\">\(csrfField(viewer))"
                        b += "<input type=\"hidden\" name=\"all\" value=\"1\" />"
                        b += "<button type=\"submit\" class=\"danger\">Replay all of \(escape(service))</button></form>"
                    }
                    b += "</td>"
                }
                b += "</tr>\n"
            }
            b += "</tbody>\n</table>\n"
        }
        b += "</section>\n"

        b += "<section class=\"card\" id=\"dead-letters\">\n<h2>Letters</h2>\n"
        if page.letters.isEmpty {
            b += "<p class=\"muted\">No dead letters.</p>\n"
        } else {
            b += "<div class=\"scroll\">\n<table>\n<thead><tr>"
            for head in ["Service", "Message id", "Type", "Code", "Reason", "Failed at", "Routing key", "Body"] {
                b += "<th scope=\"col\">\(head)</th>"
            }
            if admin { b += "<th scope=\"col\">Replay</th>" }
            b += "</tr></thead>\n<tbody>\n"
            for letter in page.letters {
                b += "<tr data-message=\"\(escape(letter.messageId))\">"
                b += "<td>\(escape(letter.service))</td><td><code>\(escape(letter.messageId))</code></td>"
                b += "<td>\(text(letter.type))</td><td>\(letter.code.map { "<code>\(escape($0))</code>" } ?? text(nil))</td>"
                b += "<td>\(text(letter.reason))</td><td>\(text(letter.failedAt))</td><td>\(text(letter.originalRoutingKey))</td>"
                let body = letter.body.count > bodyShown ? String(letter.body.prefix(bodyShown)) + "…" : letter.body
                b += "<td><pre>\(escape(body))</pre></td>"
                if admin {
                    b += "<td><form method=\"post\" action=\"\(replayPath(letter.service))\" class=\"inline\">\(csrfField(viewer))"
                    b += "<input type=\"hidden\" name=\"id\" value=\"\(escape(letter.messageId))\" />"
                    b += "<button type=\"submit\">Replay</button></form></td>"
                }
                b += "</tr>\n"
            }
            b += "</tbody>\n</table>\n</div>\n"
        }
        b += "</section>\n"
        return layout(title: "Dead letters", viewer: viewer, active: "dead-letters", body: b)
    }

    /// Where a service's letters are replayed.
    static func replayPath(_ service: String) -> String { "/dead-letters/\(percentEncode(service))/replay" }
}

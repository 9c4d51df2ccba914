import AMQP
import ConsoleUI
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Runtime
import ServiceLifecycle
import Synchronization

/// What the console's HTTP side needs besides its read model.
public struct ConsoleHTTPConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var users: UserDirectory
    public var sessions: SessionCodec
    /// Cookies marked `Secure` (behind HTTPS).
    public var secureCookies: Bool

    public init(host: String, port: Int, users: UserDirectory, sessions: SessionCodec, secureCookies: Bool) {
        self.host = host
        self.port = port
        self.users = users
        self.sessions = sessions
        self.secureCookies = secureCookies
    }
}

/// The state machines the procedures page draws, with the view kind whose cases it counts.
public struct MachineEntry: Sendable {
    public var service: String
    public var info: AggregateInfo
    /// The console view kind whose states are counted for it (nil: not followed).
    public var countedAs: String?

    public init(service: String, info: AggregateInfo, countedAs: String?) {
        self.service = service
        self.info = info
        self.countedAs = countedAs
    }
}

/// The console's web UI and HTTP API (Hummingbird 2, HTTP/1.1):
///
/// - UI (session cookie from `POST /login`): `/board` (live by server-sent events on
///   `/board/events`, rows from `/board/rows`), `/workorders/{id}`, `/kpis`, `/procedures`,
///   `/dead-letters` (replay: admins, `POST /dead-letters/{service}/replay`).
/// - API (`Authorization: Bearer <token>`, or the session cookie with `X-CSRF-Token` on writes):
///   `GET /api/v1/workorders`, `GET /api/v1/workorders/{id}`, `GET /api/v1/kpis`,
///   `POST /api/v1/commands` (a CloudEvent in structured mode: `202 {"id"}` once the broker
///   confirmed it on `ot.commands`, `400` with the `command.rejected` shape), and the OpenAPI
///   document at `GET /api/v1/openapi.json` (public).
/// - `GET /health`: `200 ok` (public).
public final class ConsoleHTTP: Service, Sendable {
    let configuration: ConsoleHTTPConfiguration
    let store: ConsoleStore
    let intake: CommandIntake
    let publisher: AMQPConnection
    let deadLetters: DeadLetterDesk
    let machines: [MachineEntry]
    let clock: @Sendable () -> Date
    let logger: Logger
    let bound = Mutex<Int?>(nil)
    let version = Mutex<String>("")
    /// The board version last seen (nil before the first poll).
    var currentVersion: String? { version.withLock { $0.isEmpty ? nil : $0 } }
    /// Set at graceful shutdown: open event streams finish.
    let stopping = Mutex<Bool>(false)

    public init(
        configuration: ConsoleHTTPConfiguration, store: ConsoleStore, intake: CommandIntake, publisher: AMQPConnection,
        deadLetters: DeadLetterDesk, machines: [MachineEntry], clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.intake = intake
        self.publisher = publisher
        self.deadLetters = deadLetters
        self.machines = machines
        self.clock = clock
        self.logger = logger
    }

    /// The port actually bound, once listening.
    public var boundPort: Int? { bound.withLock { $0 } }

    static let sessionCookie = "ot_session"

    public func run() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("/health") { _, _ in Self.text(.ok, "ok\n") }
        router.get("/") { _, _ in Self.redirect("/board") }
        router.get("/login") { request, _ in
            Self.html(.ok, Pages.login(error: nil, next: Self.safeNext(request.uri.queryParameters.get("next"))))
        }
        router.post("/login") { request, _ in try await self.login(request) }
        router.post("/logout") { request, _ in
            try await self.page(request, .read, form: true) { _, _ in
                var r = Self.redirect("/login")
                r.headers[values: .setCookie].append("\(Self.sessionCookie)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
                return r
            }
        }
        router.get("/board") { request, _ in
            try await self.page(request, .read) { viewer, _ in
                let page = try await self.store.board(Self.filter(request), now: self.clock(), version: self.currentVersion)
                return Self.html(.ok, Pages.board(page, viewer: viewer))
            }
        }
        router.get("/board/rows") { request, _ in
            try await self.page(request, .read) { _, _ in
                let page = try await self.store.board(Self.filter(request), now: self.clock(), version: self.currentVersion)
                var r = Self.html(.ok, Pages.boardRows(page))
                r.headers[HTTPField.Name("X-Board-Total")!] = "\(page.total)"
                r.headers[HTTPField.Name("X-Board-Breached")!] = "\(page.breached)"
                return r
            }
        }
        router.get("/board/events") { request, _ in
            try await self.page(request, .read) { _, _ in self.events() }
        }
        router.get("/workorders/:id") { request, context in
            try await self.page(request, .read) { viewer, _ in
                let id = context.parameters.get("id") ?? ""
                guard let d = try await self.store.workOrder(id.removingPercentEncoding ?? id) else {
                    return Self.html(.notFound, Pages.error(status: 404, message: "No OT \(id) is known to the console", viewer: viewer))
                }
                return Self.html(.ok, Pages.workOrder(d, viewer: viewer, now: self.clock()))
            }
        }
        router.get("/kpis") { request, _ in
            try await self.page(request, .read) { viewer, _ in
                let month = Self.month(request) ?? YearMonth(self.clock())
                let series = try await self.store.indicators(upTo: month)
                return Self.html(.ok, Pages.kpis(series, month: month.description, viewer: viewer))
            }
        }
        router.get("/procedures") { request, _ in
            try await self.page(request, .read) { viewer, _ in
                Self.html(.ok, Pages.procedures(try await self.machineViews(), viewer: viewer))
            }
        }
        router.get("/dead-letters") { request, _ in
            try await self.page(request, .read) { viewer, _ in
                let page = try await self.deadLetters.page(notice: request.uri.queryParameters.get("notice").map { String($0) })
                return Self.html(.ok, Pages.deadLetters(page, viewer: viewer))
            }
        }
        router.post("/dead-letters/:service/replay") { request, context in
            try await self.page(request, .replayDeadLetters, form: true) { viewer, form in
                let service = context.parameters.get("service") ?? ""
                let ids = form.all("id")
                let notice: String
                if form.first("all") == "1" || !ids.isEmpty {
                    let report = try await self.deadLetters.replay(service: service, ids: form.first("all") == "1" ? nil : Set(ids))
                    self.logger.notice(
                        "dead letters replayed", metadata: ["by": "\(viewer.name)", "service": "\(service)", "replayed": "\(report.replayed)"])
                    notice = report.summary
                } else {
                    notice = "nothing selected"
                }
                return Self.redirect("/dead-letters?notice=\(notice.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
            }
        }
        // API
        router.get("/api/v1/openapi.json") { _, _ in Self.json(.ok, Data(ConsoleOpenAPI.document.utf8)) }
        router.get("/api/v1/workorders") { request, _ in
            try await self.api(request, .read) { _ in
                let filter: BoardFilter
                do { filter = try Self.apiFilter(request) } catch { return Self.problem(.badRequest, "validation", "\(error)") }
                let page = try await self.store.board(filter, now: self.clock(), version: self.currentVersion)
                return Self.json(.ok, try Self.encoder.encode(WorkOrderList(total: page.total, breached: page.breached, items: page.rows)))
            }
        }
        router.get("/api/v1/workorders/:id") { request, context in
            try await self.api(request, .read) { _ in
                let id = context.parameters.get("id") ?? ""
                guard let d = try await self.store.workOrder(id.removingPercentEncoding ?? id) else {
                    return Self.problem(.notFound, "notFound", "no work order \(id) is known to the console")
                }
                return Self.json(.ok, try Self.encoder.encode(d))
            }
        }
        router.get("/api/v1/kpis") { request, _ in
            try await self.api(request, .read) { _ in
                let text = request.uri.queryParameters.get("month").map { String($0) }
                let month: YearMonth
                if let text {
                    guard let m = YearMonth(text) else { return Self.problem(.badRequest, "validation", "month must be YYYY-MM") }
                    month = m
                } else {
                    month = YearMonth(self.clock())
                }
                let months = Int(request.uri.queryParameters.get("months") ?? "12") ?? 0
                guard (1...36).contains(months) else { return Self.problem(.badRequest, "validation", "months must be 1…36") }
                return Self.json(.ok, try Self.encoder.encode(try await self.store.indicators(upTo: month, count: months)))
            }
        }
        router.post("/api/v1/commands") { request, _ in
            try await self.api(request, .sendCommands) { viewer in try await self.command(request, by: viewer) }
        }
        let host = configuration.host, port = configuration.port, logger = logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                self.bound.withLock { $0 = port }
                logger.info("console listening", metadata: ["http.host": "\(host)", "http.port": "\(port)"])
            },
            logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.watchBoard() }
            // Server-sent event streams never end by themselves: at SIGTERM they are told to
            // finish, so that the server's graceful shutdown (which waits for open requests)
            // does not wait for ever.
            try await withGracefulShutdownHandler {
                try await app.run()
            } onGracefulShutdown: {
                self.stopping.withLock { $0 = true }
            }
            group.cancelAll()
        }
    }

    // MARK: Access

    /// The signed-in viewer of a request: its session cookie, or a bearer token.
    func viewer(_ request: Request) -> (Viewer, viaCookie: Bool)? {
        if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
            let token = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let user = configuration.users.authenticate(token: token) else { return nil }
            return (Viewer(name: user.name, role: user.role, csrf: ""), false)
        }
        guard let cookie = Self.cookie(Self.sessionCookie, in: request),
            let v = configuration.sessions.open(cookie, now: clock())
        else { return nil }
        return (v, true)
    }

    /// A page: signed in (else to `/login`), allowed (else 403), and for a form, its anti-forgery
    /// token checked (else 403).
    func page(
        _ request: Request, _ action: Permission.Action, form: Bool = false,
        _ handle: (Viewer, FormFields) async throws -> Response
    ) async throws -> Response {
        guard let (viewer, _) = viewer(request) else {
            if request.method == .get {
                let next = request.uri.path + (request.uri.query.map { "?\($0)" } ?? "")
                return Self.redirect("/login?next=\(next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
            }
            return Self.html(.unauthorized, Pages.error(status: 401, message: "Sign in first", viewer: nil))
        }
        guard Permission.allows(viewer.role, action) else {
            return Self.html(.forbidden, Pages.error(status: 403, message: "Your role (\(viewer.role.rawValue)) may not do this", viewer: viewer))
        }
        var fields = FormFields()
        if form {
            fields = FormFields(try await request.body.collect(upTo: 64 * 1024))
            guard configuration.sessions.checkCSRF(fields.first("_csrf"), for: viewer) else {
                return Self.html(.forbidden, Pages.error(status: 403, message: "The form has expired: reload the page", viewer: viewer))
            }
        }
        do {
            return try await handle(viewer, fields)
        } catch {
            logger.error("console page failed", metadata: ["path": "\(request.uri.path)", "error": "\(LogSafe.escape("\(error)"))"])
            return Self.html(.serviceUnavailable, Pages.error(status: 503, message: "The console cannot answer now; try again", viewer: viewer))
        }
    }

    /// An API call: authenticated (401), allowed (403), a cookie-authenticated write carrying
    /// `X-CSRF-Token` (403).
    func api(_ request: Request, _ action: Permission.Action, _ handle: (Viewer) async throws -> Response) async throws -> Response {
        guard let (viewer, viaCookie) = viewer(request) else {
            var r = Self.problem(.unauthorized, "unauthenticated", "a bearer token or a session is required")
            r.headers[.wwwAuthenticate] = "Bearer realm=\"ot-console\""
            return r
        }
        guard Permission.allows(viewer.role, action) else {
            return Self.problem(.forbidden, "forbidden", "role \(viewer.role.rawValue) may not \(action.rawValue)")
        }
        if viaCookie, request.method != .get,
            !configuration.sessions.checkCSRF(request.headers[HTTPField.Name("X-CSRF-Token")!], for: viewer)
        {
            return Self.problem(.forbidden, "csrf", "X-CSRF-Token is missing or wrong")
        }
        do {
            return try await handle(viewer)
        } catch {
            logger.error("console API failed", metadata: ["path": "\(request.uri.path)", "error": "\(LogSafe.escape("\(error)"))"])
            return Self.problem(.serviceUnavailable, "unavailable", "the console cannot answer now; try again")
        }
    }

    func login(_ request: Request) async throws -> Response {
        let form = FormFields(try await request.body.collect(upTo: 16 * 1024))
        let next = Self.safeNext(form.first("next"))
        guard let user = configuration.users.authenticate(username: form.first("username") ?? "", password: form.first("password") ?? "")
        else {
            logger.notice("sign-in refused", metadata: ["user": "\(LogSafe.escape(form.first("username") ?? ""))"])
            return Self.html(.unauthorized, Pages.login(error: "Unknown user or wrong password", next: next))
        }
        logger.info("signed in", metadata: ["user": "\(user.name)", "role": "\(user.role.rawValue)"])
        var r = Self.redirect(next)
        let cookie = configuration.sessions.issue(name: user.name, role: user.role, now: clock())
        r.headers[values: .setCookie].append(
            "\(Self.sessionCookie)=\(cookie); Path=/; HttpOnly; SameSite=Strict\(configuration.secureCookies ? "; Secure" : "")")
        return r
    }

    // MARK: Commands

    func command(_ request: Request, by viewer: Viewer) async throws -> Response {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/cloudevents+json") || type.hasPrefix("application/json") else {
            return Self.problem(
                .unsupportedMediaType, "unsupportedMediaType", "send the command as a CloudEvent in structured mode (application/cloudevents+json)")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: 1024 * 1024) } catch {
            return Self.problem(.contentTooLarge, "tooLarge", "a command is at most 1 MiB")
        }
        switch intake.validate(Array(buffer: body)) {
        case .failure(let refused):
            logger.notice(
                "command refused", metadata: ["by": "\(viewer.name)", "type": "\(LogSafe.escape(refused.rejected.commandType))", "code": "\(refused.rejected.code)"])
            return Self.json(.badRequest, try Self.encoder.encode(refused.rejected))
        case .success(let accepted):
            let outcome = try await publisher.publish(accepted.message)
            switch outcome {
            case .confirmed:
                logger.info("command sent", metadata: ["by": "\(viewer.name)", "type": "\(accepted.type)", "message.id": "\(accepted.id)"])
                return Self.json(.accepted, try Self.encoder.encode(CommandAccepted(id: accepted.id, type: accepted.type, correlationId: accepted.correlationId)))
            case .returned:
                return Self.problem(.serviceUnavailable, "unroutable", "no service takes \(accepted.type) now; nothing was sent")
            case .nacked:
                return Self.problem(.serviceUnavailable, "refused", "the broker refused the command; send it again")
            }
        }
    }

    // MARK: Live board

    /// Polls the read model's board version twice a second (one query for all viewers).
    func watchBoard() async {
        while !Task.isCancelled {
            if let v = try? await store.boardVersion() { version.withLock { $0 = v } }
            // Cancelled at shutdown: the loop ends, nothing is thrown.
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Server-sent events: `changed` whenever an OT's view changed; a comment every 15 s keeps
    /// the connection open.
    func events() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var seen = self.version.withLock { $0 }
                try await writer.write(ByteBuffer(string: "retry: 2000\nevent: hello\ndata: \(seen)\n\n"))
                var idle = 0
                while !Task.isCancelled, !self.stopping.withLock({ $0 }) {
                    try await Task.sleep(for: .milliseconds(250))
                    let now = self.version.withLock { $0 }
                    if now != seen {
                        seen = now
                        idle = 0
                        try await writer.write(ByteBuffer(string: "data: \(now)\n\n"))
                    } else {
                        idle += 1
                        if idle >= 60 {
                            idle = 0
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                }
                try await writer.finish(nil)
            })
    }

    func machineViews() async throws -> [MachineView] {
        let counts = try await store.stateCounts()
        return machines.map { m in
            MachineView(
                service: m.service, kind: m.info.kind, machine: m.info.machine,
                counts: m.countedAs.map { kind in
                    let c = counts[kind] ?? [:]
                    return Dictionary(uniqueKeysWithValues: m.info.machine.states.map { ($0.name, c[$0.name] ?? 0) })
                })
        }
    }

    // MARK: Helpers

    /// The API's JSON: the contract's conventions (sorted keys, RFC 3339 timestamps), written by
    /// the hand-written encoder (cheaper than `JSONEncoder`; slashes are not escaped).
    static let encoder = APIEncoder()

    struct APIEncoder: Sendable {
        func encode<T: Encodable>(_ value: T) throws -> Data { Data(try Wire.fastEncoder.encode(value)) }
    }

    static func filter(_ request: Request) -> BoardFilter {
        let q = request.uri.queryParameters
        func text(_ name: String) -> String? {
            guard let v = q.get(name), !v.isEmpty else { return nil }
            return String(v)
        }
        return BoardFilter(
            country: text("country"), serviceLine: text("serviceLine"), kind: text("kind"), assignee: text("assignee"),
            level: text("level").flatMap { Int($0) }, status: text("status"), limit: text("limit").flatMap { Int($0) } ?? 100,
            offset: text("offset").flatMap { Int($0) } ?? 0)
    }

    struct InvalidParameter: Error, CustomStringConvertible {
        var description: String
    }

    /// The API's filter: like the board's, but a value out of range is a 400, not ignored.
    static func apiFilter(_ request: Request) throws -> BoardFilter {
        let f = filter(request)
        let q = request.uri.queryParameters
        if let l = q.get("level"), !l.isEmpty, !(Int(l).map { (1...4).contains($0) } ?? false) {
            throw InvalidParameter(description: "level must be 1…4")
        }
        if let l = q.get("limit"), !l.isEmpty, !(Int(l).map { (1...500).contains($0) } ?? false) {
            throw InvalidParameter(description: "limit must be 1…500")
        }
        if let o = q.get("offset"), !o.isEmpty, !(Int(o).map { $0 >= 0 && $0 <= 1_000_000 } ?? false) {
            throw InvalidParameter(description: "offset must be 0…1000000")
        }
        if let c = f.country, !["BO", "CL", "CO"].contains(c) { throw InvalidParameter(description: "country must be BO, CL or CO") }
        if let k = f.kind, WorkOrderKind(rawValue: k) == nil { throw InvalidParameter(description: "unknown kind \(k)") }
        if let s = f.status, !WorkOrderViews.progress.order.contains(s) { throw InvalidParameter(description: "unknown status \(s)") }
        for (name, value) in [("serviceLine", f.serviceLine), ("assignee", f.assignee)] {
            if let v = value, v.utf8.count > 200 || v.utf8.contains(0) {
                throw InvalidParameter(description: "\(name) must be at most 200 bytes, without NUL")
            }
        }
        return f
    }

    static func month(_ request: Request) -> YearMonth? { request.uri.queryParameters.get("month").flatMap { YearMonth(String($0)) } }

    /// Only a local path may follow the sign-in (no open redirect).
    static func safeNext(_ next: (some StringProtocol)?) -> String {
        guard let n = next.map({ String($0) }), n.hasPrefix("/"), !n.hasPrefix("//"), !n.contains("\\") else { return "/board" }
        return n
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingCharacters(in: .whitespaces)
                if kv.hasPrefix(name + "=") { return String(kv.dropFirst(name.count + 1)) }
            }
        }
        return nil
    }

    static func html(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ status: HTTPResponse.Status, _ body: Data) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// An error in the API: `{"error": code, "message": text}`.
    static func problem(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        let body = (try? encoder.encode(["error": code, "message": message])) ?? Data()
        return json(status, body)
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}

/// `GET /api/v1/workorders`.
struct WorkOrderList: Codable {
    var total: Int
    var breached: Int
    var items: [BoardRow]
}

/// `202` of `POST /api/v1/commands`.
struct CommandAccepted: Codable {
    var id: String
    var type: String
    var correlationId: String
}

/// Fields of an `application/x-www-form-urlencoded` body.
struct FormFields {
    var pairs: [(String, String)] = []

    init() {}

    init(_ buffer: ByteBuffer) {
        let text = String(buffer: buffer)
        for part in text.split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            pairs.append((decode(kv[0]), kv.count > 1 ? decode(kv[1]) : ""))
        }
    }

    func first(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
}

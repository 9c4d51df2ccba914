import AMQP
import Console
import ConsoleUI
import Contracts
import Foundation
import Platform
import PostgresNIO
import Runtime
import Testing

/// The console end to end against a real RabbitMQ and PostgreSQL, each service its own process:
/// its read model folded from the events of commercial, approval, dispatch and billing (the API's
/// list and detail, the board), commands sent over HTTP (and the invalid ones that must never
/// reach the broker), sign-in, roles and anti-forgery tokens, dead letters replayed by an admin,
/// the indicators, a rebuild of its schema, and its OpenAPI document against the committed one.
@Suite("console service against RabbitMQ and PostgreSQL", .serialized)
struct ConsoleServiceTests {
    // MARK: Sign-ins made for the suite (PBKDF2 with few rounds: fast, still a real hash)

    static let users = ["admin", "operator", "viewer"]
    static let passwords: [String: String] = Dictionary(
        uniqueKeysWithValues: users.map { ($0, "\($0)-\(UUID().uuidString.prefix(12))") })
    static let tokens: [String: String] = Dictionary(uniqueKeysWithValues: users.map { ($0, ConsoleSecrets.randomToken()) })
    static let environment: [String: String] = {
        let userEntries = users.map { "\($0):\($0):\(PasswordHash.make(password: passwords[$0]!, iterations: 1000))" }
        let tokenEntries = users.map { "api-\($0):\($0):\(ConsoleSecrets.tokenHash(tokens[$0]!))" }
        let secret = ConsoleSecrets.randomBytes(count: 32).map { String(format: "%02x", $0) }.joined()
        return [
            "CONSOLE_USERS": userEntries.joined(separator: ";"), "CONSOLE_TOKENS": tokenEntries.joined(separator: ";"),
            "CONSOLE_SESSION_SECRET": secret, "CONSOLE_HTTP_HOST": "127.0.0.1", "CONSOLE_HTTP_PORT": "0",
        ]
    }()

    // MARK: HTTP through curl

    struct Reply: CustomStringConvertible {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.last { $0.name.lowercased() == name.lowercased() }?.value }
        func json() -> [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
        var description: String { "HTTP \(status) \(text.prefix(600))" }
    }

    /// One request with curl (no redirect followed): status, headers, body.
    static func http(_ method: String, _ url: String, headers: [String] = [], body: Data? = nil) throws -> Reply {
        let dir = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        let (h, o, i) = (dir.appendingPathComponent("console-h-\(id)"), dir.appendingPathComponent("console-o-\(id)"), dir.appendingPathComponent("console-i-\(id)"))
        defer { for f in [h, o, i] { try? FileManager.default.removeItem(at: f) } }
        var args = ["curl", "-s", "--max-time", "20", "-X", method, "-D", h.path, "-o", o.path, "-w", "%{http_code}"]
        for x in headers { args += ["-H", x] }
        if let body {
            try body.write(to: i)
            args += ["--data-binary", "@\(i.path)"]
        }
        args.append(url)
        let r = try shell(args)
        let status = Int(r.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let headerText = (try? String(contentsOf: h, encoding: .utf8)) ?? ""
        let parsed = headerText.components(separatedBy: "\r\n").compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Reply(status: status, headers: parsed, body: (try? Data(contentsOf: o)) ?? Data())
    }

    /// The console as a process, and requests to it.
    struct Console {
        let process: ServiceProcess
        let base: String

        func get(_ path: String, token: String? = nil, cookie: String? = nil, headers: [String] = []) throws -> Reply {
            try ConsoleServiceTests.http("GET", base + path, headers: auth(token, cookie) + headers)
        }

        func post(_ path: String, token: String? = nil, cookie: String? = nil, headers: [String] = [], body: Data) throws -> Reply {
            try ConsoleServiceTests.http("POST", base + path, headers: auth(token, cookie) + headers, body: body)
        }

        /// A form post (`application/x-www-form-urlencoded`).
        func form(_ path: String, cookie: String?, _ fields: [(String, String)]) throws -> Reply {
            let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
            return try post(path, cookie: cookie, headers: ["Content-Type: application/x-www-form-urlencoded"], body: Data(body.utf8))
        }

        func auth(_ token: String?, _ cookie: String?) -> [String] {
            (token.map { ["Authorization: Bearer \($0)"] } ?? []) + (cookie.map { ["Cookie: \($0)"] } ?? [])
        }

        static func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }

        /// Signs in; returns the `Cookie` header value of the session.
        func signIn(_ user: String) throws -> String {
            let r = try form("/login", cookie: nil, [("username", user), ("password", ConsoleServiceTests.passwords[user]!), ("next", "/board")])
            guard r.status == 303, let set = r.header("Set-Cookie"), let cookie = set.split(separator: ";").first else {
                throw TestFailure("sign-in of \(user) failed: \(r)")
            }
            return String(cookie)
        }

        /// The session's anti-forgery token, from the hidden `_csrf` input of a page's forms.
        func csrf(_ cookie: String) throws -> String {
            let page = try get("/board", cookie: cookie)
            guard page.status == 200, let m = page.text.firstMatch(of: /name="_csrf" value="([^"]+)"/) else {
                throw TestFailure("no _csrf on /board: \(page)")
            }
            return String(m.1)
        }

        /// `GET /api/v1/workorders` with a query, decoded.
        func list(_ query: String = "", token: String = ConsoleServiceTests.tokens["viewer"]!) throws -> WorkOrderListBody {
            let r = try get("/api/v1/workorders" + (query.isEmpty ? "" : "?\(query)"), token: token)
            guard r.status == 200 else { throw TestFailure("list \(query): \(r)") }
            return try ConsoleServiceTests.decoder.decode(WorkOrderListBody.self, from: r.body)
        }

        func detail(_ id: String) throws -> WorkOrderDetail? {
            let r = try get("/api/v1/workorders/\(id)", token: ConsoleServiceTests.tokens["viewer"]!)
            guard r.status == 200 else { return nil }
            return try ConsoleServiceTests.decoder.decode(WorkOrderDetail.self, from: r.body)
        }
    }

    struct WorkOrderListBody: Decodable {
        var total: Int
        var breached: Int
        var items: [BoardRow]
        var ids: [String] { items.map(\.workOrderId) }
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Wire.parseTimestamp(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a timestamp: \(text)"))
            }
            return date
        }
        return d
    }()

    /// Starts the console (not waiting for it).
    static func startConsole(_ system: TestSystem) throws -> ServiceProcess {
        try system.start("console", environment: environment)
    }

    /// Waits until the console consumes and listens; its HTTP port from its log.
    static func ready(_ process: ServiceProcess) async throws -> Console {
        try await process.waitUntilReady()
        let listening = await eventually(timeout: .seconds(20)) { process.log.contains("console listening") || !process.isRunning }
        guard listening, let line = process.log.split(separator: "\n").first(where: { $0.contains("console listening") }),
            let port = line.firstMatch(of: /http\.port=([0-9]+)/)?.1
        else { throw TestFailure("the console does not listen; log \(process.logURL.path):\n\(process.log.suffix(3000))") }
        return Console(process: process, base: "http://127.0.0.1:\(port)")
    }

    static func send<M: Message>(_ sender: CommandSender, _ message: M, id: String = UUID().uuidString.lowercased()) async throws {
        try await sender.publishConfirmed([try CommandSender.message(message, id: id)])
    }

    /// A command as a structured-mode CloudEvent (what `POST /api/v1/commands` takes).
    static func cloudEvent<M: Message>(_ message: M, id: String) throws -> Data {
        let envelope = Envelope(id: id, source: "/test/console", correlationId: nil, causationId: nil, data: message)
        return Data(try EnvelopeCodec.outgoing(envelope, appId: "test").body)
    }

    /// `body` (a JSON object) changed by `change`.
    static func edited(_ body: Data, _ change: (inout [String: Any]) -> Void) throws -> Data {
        var object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        change(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }


    // MARK: 1. Read model, API list and detail, board

    @Test func theReadModelFollowsWorkOrdersFromOpeningToInvoiceAndTheAPIAndBoardListTheOpenOnesByLevelThenDeadline() async throws {
        try await withTestSystem("con-read") { system in
            var processes: [ServiceProcess] = []
            for s in ["commercial", "approval", "dispatch", "billing"] { processes.append(try system.start(s)) }
            let consoleProcess = try Self.startConsole(system)
            for p in processes { try await p.waitUntilReady() }
            let console = try await Self.ready(consoleProcess)
            let events = try await EventCollector(system: system)
            let crm = try await system.sender()
            let run = UUID().uuidString.prefix(6).lowercased()
            func id(_ s: String) -> String { "WO-\(run)-\(s)" }
            func send<M: Message>(_ m: M, about workOrderId: String) async throws {
                let correlation = events.decoded(WorkOrderOpened.self).first { $0.data.workOrderId == workOrderId }?.correlationid
                try await crm.publishConfirmed([try CommandSender.message(m, correlationId: correlation)])
            }

            // Five OTs: a public project in Bolivia that goes all the way, projects in Colombia and
            // Bolivia, installations in Chile and Bolivia.
            var life = OpenWorkOrder.example
            life.workOrderId = id("life")
            life.dueBy = Date().addingTimeInterval(60 * 86_400)
            var co = OpenWorkOrder.example
            co.workOrderId = id("co")
            co.customer.country = .co
            co.travel = nil
            co.dueBy = Date().addingTimeInterval(50 * 86_400)
            var plain = OpenWorkOrder.example
            plain.workOrderId = id("plain")
            plain.travel = nil
            plain.dueBy = Date().addingTimeInterval(40 * 86_400)
            func installation(_ suffix: String, _ country: Country) -> OpenWorkOrder {
                var c = OpenWorkOrder.example
                c.workOrderId = id(suffix)
                c.kind = .installation
                c.serviceLine = nil
                c.customer = .residentialExample
                c.customer.country = country
                c.purchaseOrder = nil
                c.travel = nil
                c.dueBy = nil
                c.documents = []
                c.description = "Instalación de internet"
                return c
            }
            let cl = installation("cl", .cl), bo = installation("bo", .bo)
            let all = [life, co, plain, cl, bo]
            for c in all { try await Self.send(crm, c) }
            let ids = Set(all.compactMap(\.workOrderId))
            #expect(await eventually(timeout: .seconds(60)) {
                Set(events.decoded(WorkOrderDispatched.self).map(\.data.workOrderId)).isSuperset(of: ids)
            }, "all five dispatched")

            // The priority levels (as the priority service publishes them): CO 1, the two
            // installations 2 (Bolivia's deadline first); the other two stay at dispatch's level 4.
            let now = Date()
            let deadlines = [id("co"): now.addingTimeInterval(5 * 3600), id("bo"): now.addingTimeInterval(2 * 3600), id("cl"): now.addingTimeInterval(3 * 3600)]
            for (wo, level) in [(id("co"), 1), (id("bo"), 2), (id("cl"), 2)] {
                try await send(WorkOrderPrioritized(workOrderId: wo, level: level, deadline: deadlines[wo]!, reason: "test matrix row"), about: wo)
            }
            var listed = WorkOrderListBody(total: 0, breached: 0, items: [])
            let levelled = await eventually(timeout: .seconds(30), every: .milliseconds(250)) {
                listed = (try? console.list()) ?? listed
                let levels = Dictionary(uniqueKeysWithValues: listed.items.map { ($0.workOrderId, $0.level) })
                return listed.total == 5 && levels[id("co")] == 1 && levels[id("bo")] == 2 && levels[id("cl")] == 2
                    && levels[id("life")] == 4 && levels[id("plain")] == 4
            }
            #expect(levelled, "the API lists the five OTs with their levels: \(listed.items.map { "\($0.workOrderId)=\($0.level.map(String.init) ?? "-")" })")
            // By level, then deadline: CO (1), Bolivia's installation (2, +2 h), Chile's (2, +3 h),
            // then the two level-4 projects by their contact deadline.
            #expect(Array(listed.ids.prefix(3)) == [id("co"), id("bo"), id("cl")], "order: \(listed.ids)")
            #expect(Set(listed.ids.suffix(2)) == [id("life"), id("plain")])
            for (a, b) in zip(listed.items, listed.items.dropFirst()) {
                let ka = (a.level ?? 5, a.deadline ?? .distantFuture), kb = (b.level ?? 5, b.deadline ?? .distantFuture)
                #expect(ka.0 < kb.0 || (ka.0 == kb.0 && ka.1 <= kb.1), "\(a.workOrderId) before \(b.workOrderId)")
            }
            let coRow = try #require(listed.items.first { $0.workOrderId == id("co") })
            #expect(coRow.deadlineWhat == "priority" && coRow.deadline.map(Wire.timestamp) == Wire.timestamp(deadlines[id("co")]!))
            #expect(coRow.country == "CO" && coRow.kind == "project" && coRow.status == "dispatched" && coRow.number?.isEmpty == false)
            let plainRow = try #require(listed.items.first { $0.workOrderId == id("plain") })
            let plainDispatch = try #require(events.decoded(WorkOrderDispatched.self).first { $0.data.workOrderId == id("plain") })
            #expect(plainRow.deadlineWhat == "contact" && plainRow.deadline.map(Wire.timestamp) == Wire.timestamp(plainDispatch.data.contactBy))

            // Filters narrow the list (and the total).
            #expect(try console.list("country=CL").ids == [id("cl")])
            #expect(try console.list("country=CO").ids == [id("co")])
            let installations = try console.list("kind=installation")
            #expect(installations.ids == [id("bo"), id("cl")] && installations.total == 2)
            #expect(try console.list("level=2").ids == [id("bo"), id("cl")])
            #expect(Set(try console.list("level=4").ids) == [id("life"), id("plain")])
            #expect(try console.list("country=BO&kind=installation").ids == [id("bo")])
            let page = try console.list("limit=2")
            #expect(page.ids == [id("co"), id("bo")] && page.total == 5, "a page of 2 keeps the total")
            #expect(try console.list("limit=2&offset=2").ids == [id("cl")] + [listed.ids[3]])
            #expect(try console.get("/api/v1/workorders?level=9", token: Self.tokens["viewer"]!).status == 400)
            #expect(try console.get("/api/v1/workorders?country=AR", token: Self.tokens["viewer"]!).status == 400)
            #expect(try console.get("/api/v1/workorders?kind=spaceship", token: Self.tokens["viewer"]!).status == 400)

            // The board's rows (a session, not a token), filtered the same way.
            let viewer = try console.signIn("viewer")
            let rows = try console.get("/board/rows", cookie: viewer)
            #expect(rows.status == 200 && rows.header("X-Board-Total") == "5", "\(rows)")
            for wo in ids { #expect(rows.text.contains("data-ot=\"\(wo)\""), "board row of \(wo)") }
            let firstRow = rows.text.firstMatch(of: /data-ot="([^"]+)"/)?.1
            #expect(firstRow.map(String.init) == id("co"), "the most urgent first")
            let chile = try console.get("/board/rows?country=CL", cookie: viewer)
            #expect(chile.header("X-Board-Total") == "1" && chile.text.contains("data-ot=\"\(id("cl"))\"") && !chile.text.contains(id("bo")))
            #expect(try console.get("/board/rows").status == 303, "no session: to the sign-in")

            // One OT all the way: assigned, attended, closed, prefactura approved, invoiced.
            let lifeId = id("life")
            try await send(AssignWorkOrder(workOrderId: lifeId, assignee: Assignee(id: "T-7", name: "Carlos Rojas", role: "technician")), about: lifeId)
            #expect(await eventually(timeout: .seconds(30)) { events.decoded(WorkOrderAssigned.self).contains { $0.data.workOrderId == lifeId } })
            try await send(ReportOutcome(workOrderId: lifeId, outcome: .resolved), about: lifeId)
            #expect(await eventually(timeout: .seconds(30)) { events.decoded(WorkOrderAttended.self).contains { $0.data.workOrderId == lifeId } })
            try await send(CloseWorkOrder(workOrderId: lifeId, by: "head.csv"), about: lifeId)
            #expect(await eventually(timeout: .seconds(30)) { events.decoded(PrefacturaIssued.self).contains { $0.data.workOrderId == lifeId } })
            let prefactura = try #require(events.decoded(PrefacturaIssued.self).first { $0.data.workOrderId == lifeId }?.data)
            try await send(ReviewPrefactura(prefacturaId: prefactura.prefacturaId, decision: .approve, by: "commercial.head"), about: lifeId)
            #expect(await eventually(timeout: .seconds(30)) { events.decoded(InvoiceIssued.self).contains { $0.data.workOrderId == lifeId } })
            let invoice = try #require(events.decoded(InvoiceIssued.self).first { $0.data.workOrderId == lifeId }?.data)

            var detail: WorkOrderDetail?
            #expect(await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
                detail = try? console.detail(lifeId)
                return detail?.invoiceId != nil && detail?.prefacturaStatus == "approved"
            }, "the console saw the invoice: \(String(describing: detail))")
            let d = try #require(detail)
            #expect(d.row.status == "closed" && d.outcome == "resolved" && d.closedAt != nil && d.row.assignee == "Carlos Rojas")
            #expect(d.row.country == "BO" && d.sector == "public" && d.customerId == OpenWorkOrder.example.customer.id)
            #expect(d.documents.contains { $0.kind == "purchaseOrder" })
            #expect(d.prefacturaId == prefactura.prefacturaId)
            #expect(d.prefacturaAmount == Amount(minor: prefactura.amount.minor, currency: prefactura.amount.currency.rawValue))
            #expect(d.invoiceId == invoice.invoiceId && d.invoiceIssuer == invoice.issuer.rawValue)
            #expect(d.invoiceAmount == Amount(minor: invoice.amount.minor, currency: invoice.amount.currency.rawValue))
            // The timeline, in order: every state change from opened to closed, then billing's facts.
            let states = d.timeline.compactMap(\.to)
            #expect(states == ["opened", "approved", "dispatched", "assigned", "attended", "closed"], "\(d.timeline.map(\.type))")
            #expect(d.timeline.first?.type == WorkOrderOpened.type)
            #expect(zip(d.timeline, d.timeline.dropFirst()).allSatisfy { $0.at <= $1.at }, "in time order")
            let types = d.timeline.map(\.type)
            func position(_ t: String) -> Int { types.firstIndex(of: t) ?? -1 }
            #expect(position(WorkOrderClosed.type) < position(PrefacturaIssued.type))
            #expect(position(PrefacturaIssued.type) < position(PrefacturaApproved.type))
            #expect(position(PrefacturaApproved.type) < position(InvoiceIssued.type))
            let opened = try #require(events.decoded(WorkOrderOpened.self).first { $0.data.workOrderId == lifeId })
            #expect(d.timeline.first?.messageId == opened.id, "each line names its message")
            #expect(d.row.number == opened.data.number)
            // The OT's page in the browser, and an unknown one.
            let html = try console.get("/workorders/\(lifeId)", cookie: viewer)
            #expect(html.status == 200 && html.text.contains(invoice.invoiceId) && html.text.contains(opened.data.number))
            #expect(try console.get("/api/v1/workorders/WO-nobody", token: Self.tokens["viewer"]!).status == 404)

            // Closed: off the list and off the board.
            let after = try console.list()
            #expect(after.total == 4 && !after.ids.contains(lifeId))
            #expect(Set(try console.list("status=dispatched").ids) == [id("co"), id("bo"), id("cl"), id("plain")])
            // A final state named explicitly lists the OTs in it.
            let closedOnes = try console.list("status=closed")
            #expect(closedOnes.ids == [lifeId] && closedOnes.total == 1, "?status=closed lists \(closedOnes.ids)")
            let rowsAfter = try console.get("/board/rows", cookie: viewer)
            #expect(rowsAfter.header("X-Board-Total") == "4" && !rowsAfter.text.contains("data-ot=\"\(lifeId)\""))
            #expect(events.count("command.rejected") == 0)
            for p in processes + [consoleProcess] { #expect(p.isRunning) }
        }
    }

    // MARK: 2. Commands over HTTP

    @Test func aValidCommandOverHTTPReachesCommercialAndInvalidOrUnauthorizedOnesAreRefusedWithNothingPublished() async throws {
        try await withTestSystem("con-cmd") { system in
            let commercial = try system.start("commercial")
            let consoleProcess = try Self.startConsole(system)
            try await commercial.waitUntilReady()
            let console = try await Self.ready(consoleProcess)
            let events = try await EventCollector(system: system)
            let run = UUID().uuidString.prefix(6).lowercased()
            let cloudEvents = "Content-Type: application/cloudevents+json"
            func open(_ suffix: String) -> OpenWorkOrder {
                var c = OpenWorkOrder.example
                c.workOrderId = "WO-\(run)-\(suffix)"
                c.dueBy = Date().addingTimeInterval(60 * 86_400)
                return c
            }

            // A valid command, as an operator's token: 202 with its id, and commercial opens the OT.
            let validId = "http-ok-\(run)"
            let valid = try Self.cloudEvent(open("ok"), id: validId)
            let accepted = try console.post("/api/v1/commands", token: Self.tokens["operator"]!, headers: [cloudEvents], body: valid)
            #expect(accepted.status == 202, "\(accepted)")
            #expect(accepted.json()?["id"] as? String == validId && accepted.json()?["type"] as? String == OpenWorkOrder.type)
            #expect(await eventually(timeout: .seconds(30)) {
                events.decoded(WorkOrderOpened.self).contains { $0.data.workOrderId == "WO-\(run)-ok" }
            }, "the command reached commercial")
            let opened = try #require(events.decoded(WorkOrderOpened.self).first { $0.data.workOrderId == "WO-\(run)-ok" })
            #expect(opened.causationid == validId, "the OT was opened because of the command sent over HTTP")
            #expect(await eventually(timeout: .seconds(20), every: .milliseconds(250)) { (try? console.detail("WO-\(run)-ok"))?.row.status == "opened" })

            // Invalid commands: 400 with the command.rejected shape, nothing published.
            var refusedIds: [String] = []
            func refused(_ name: String, _ body: Data, code: String?, field: String?, commandId: String?) throws {
                let r = try console.post("/api/v1/commands", token: Self.tokens["operator"]!, headers: [cloudEvents], body: body)
                #expect(r.status == 400, "\(name): \(r)")
                let json = r.json()
                let errors = json?["errors"] as? [[String: Any]]
                #expect(json?["code"] is String && json?["message"] is String && json?["commandType"] is String && errors != nil, "\(name): \(r)")
                if let code { #expect(json?["code"] as? String == code, "\(name): \(r)") }
                if let field { #expect(errors?.contains { $0["field"] as? String == field } == true, "\(name): errors \(String(describing: errors))") }
                if let commandId { #expect(json?["commandId"] as? String == commandId, "\(name): \(r)") }
            }
            let noCustomer = try Self.edited(try Self.cloudEvent(open("bad-1"), id: "bad-1-\(run)")) { o in
                var data = o["data"] as? [String: Any] ?? [:]
                data["customer"] = nil
                o["data"] = data
            }
            try refused("missing data.customer", noCustomer, code: "missingField", field: "data.customer", commandId: "bad-1-\(run)")
            let unknown = try Self.edited(try Self.cloudEvent(open("bad-2"), id: "bad-2-\(run)")) { o in o["type"] = "workorder.explode" }
            try refused("unknown type", unknown, code: "unknownType", field: "type", commandId: "bad-2-\(run)")
            let opened1 = WorkOrderOpened(
                workOrderId: "WO-\(run)-bad-3", number: "OT-BO-2026-009999", kind: .project, serviceLine: .csv, customer: .example, documents: [])
            try refused("an event", try Self.cloudEvent(opened1, id: "bad-3-\(run)"), code: "invalidEnvelope", field: "type", commandId: "bad-3-\(run)")
            try refused("malformed JSON", Data(#"{"specversion": "1.0", "id": "bad-4-"#.utf8), code: "malformedJSON", field: nil, commandId: nil)
            let nulInData = try Self.edited(try Self.cloudEvent(open("bad-5"), id: "bad-5-\(run)")) { o in
                var data = o["data"] as? [String: Any] ?? [:]
                var customer = data["customer"] as? [String: Any] ?? [:]
                customer["name"] = "Gobierno\u{0}Municipal"
                data["customer"] = customer
                o["data"] = data
            }
            try refused("NUL in data", nulInData, code: "invalidValue", field: "data.customer.name", commandId: "bad-5-\(run)")
            let nulInSource = try Self.edited(try Self.cloudEvent(open("bad-6"), id: "bad-6-\(run)")) { o in o["source"] = "/crm\u{0}/x" }
            // (The bad attribute is not echoed back: no command id or type from that envelope.)
            try refused("NUL in source", nulInSource, code: "invalidValue", field: "source", commandId: nil)
            let noWorkOrderData = try Self.edited(try Self.cloudEvent(open("bad-7"), id: "bad-7-\(run)")) { o in o["data"] = nil }
            try refused("no data", noWorkOrderData, code: "missingField", field: "data", commandId: "bad-7-\(run)")
            refusedIds = (1...7).map { "bad-\($0)-\(run)" }
            // Not a CloudEvent content type.
            let plainText = try console.post(
                "/api/v1/commands", token: Self.tokens["operator"]!, headers: ["Content-Type: text/plain"],
                body: try Self.cloudEvent(open("bad-8"), id: "bad-8-\(run)"))
            #expect(plainText.status == 415, "\(plainText)")

            // A valid command no running service takes (post-sale is not running here): not sent.
            let nobody = try console.post(
                "/api/v1/commands", token: Self.tokens["operator"]!, headers: [cloudEvents],
                body: try Self.cloudEvent(AbandonPostSale.example, id: "nobody-\(run)"))
            #expect(nobody.status == 503 && nobody.json()?["error"] as? String == "unroutable", "\(nobody)")

            // Valid commands without the right to send them: a viewer (403), nobody (401), a wrong
            // token (401), a session without its anti-forgery header (403).
            let denied: [(String, [String], Int)] = [
                ("viewer", ["Authorization: Bearer \(Self.tokens["viewer"]!)"], 403),
                ("anonymous", [], 401),
                ("wrong token", ["Authorization: Bearer \(ConsoleSecrets.randomToken())"], 401),
                ("admin token typed wrong", ["Authorization: Bearer \(Self.tokens["admin"]!)x"], 401),
                ("the configured hash instead of the token", ["Authorization: Bearer \(ConsoleSecrets.tokenHash(Self.tokens["admin"]!))"], 401),
            ]
            for (n, (who, auth, status)) in denied.enumerated() {
                let r = try console.post(
                    "/api/v1/commands", headers: auth + [cloudEvents], body: try Self.cloudEvent(open("denied-\(n)"), id: "denied-\(n)-\(run)"))
                #expect(r.status == status, "\(who): \(r)")
                #expect(r.json()?["error"] as? String == (status == 401 ? "unauthenticated" : "forbidden"), "\(who): \(r)")
                if status == 401 { #expect(r.header("WWW-Authenticate")?.hasPrefix("Bearer") == true) }
                refusedIds.append("denied-\(n)-\(run)")
            }
            let operatorSession = try console.signIn("operator")
            let noHeader = try console.post(
                "/api/v1/commands", cookie: operatorSession, headers: [cloudEvents], body: try Self.cloudEvent(open("csrf"), id: "csrf-\(run)"))
            #expect(noHeader.status == 403 && noHeader.json()?["error"] as? String == "csrf", "\(noHeader)")
            refusedIds.append("csrf-\(run)")
            // With the session's token in X-CSRF-Token, the session may send it.
            let token = try console.csrf(operatorSession)
            let withHeader = try console.post(
                "/api/v1/commands", cookie: operatorSession, headers: [cloudEvents, "X-CSRF-Token: \(token)"],
                body: try Self.cloudEvent(open("session"), id: "session-\(run)"))
            #expect(withHeader.status == 202, "\(withHeader)")
            #expect(await eventually(timeout: .seconds(30)) {
                events.decoded(WorkOrderOpened.self).contains { $0.data.workOrderId == "WO-\(run)-session" }
            })

            // Nothing of the refused ones reached the broker: no OT, no command.rejected, and
            // commercial never received them.
            try await Task.sleep(for: .seconds(2))
            #expect(Set(events.decoded(WorkOrderOpened.self).map(\.data.workOrderId)) == ["WO-\(run)-ok", "WO-\(run)-session"])
            #expect(events.count("command.rejected") == 0, "\(events.decoded(CommandRejected.self).map(\.data))")
            let list = refusedIds.map { "'\($0)'" }.joined(separator: ",")
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.inbox WHERE message_id IN (\(list))") == 0)
            #expect(try await system.count("SELECT count(*)::int8 FROM commercial.inbox WHERE message_id IN ('\(validId)', 'session-\(run)')") == 2)
            #expect(commercial.isRunning && consoleProcess.isRunning)
        }
    }

    // MARK: 3. Sign-in, roles, anti-forgery, dead letters

    @Test func signInRolesAndAntiForgeryGuardThePagesAndAnAdminReplaysADeadLetter() async throws {
        try await withTestSystem("con-auth") { system in
            let commercial = try system.start("commercial")
            let consoleProcess = try Self.startConsole(system)
            try await commercial.waitUntilReady()
            let console = try await Self.ready(consoleProcess)
            let crm = try await system.sender()
            let probe = try await system.connect("probe")
            let run = UUID().uuidString.prefix(6).lowercased()

            // Public: health and the sign-in page. Other pages: to the sign-in.
            #expect(try console.get("/health").status == 200)
            let board = try console.get("/board")
            #expect(board.status == 303 && board.header("Location") == "/login?next=%2Fboard", "\(board)")
            #expect(try console.get("/login").status == 200)

            // Wrong password, unknown user: 401 and no cookie. Right password: a cookie, to `next`.
            for (user, password) in [("admin", "not-the-password"), ("nobody", Self.passwords["admin"]!), ("admin", "")] {
                let r = try console.form("/login", cookie: nil, [("username", user), ("password", password)])
                #expect(r.status == 401 && r.header("Set-Cookie") == nil, "\(user): \(r)")
            }
            let signIn = try console.form("/login", cookie: nil, [("username", "admin"), ("password", Self.passwords["admin"]!), ("next", "/kpis")])
            #expect(signIn.status == 303 && signIn.header("Location") == "/kpis", "\(signIn)")
            let setCookie = try #require(signIn.header("Set-Cookie"))
            #expect(setCookie.hasPrefix("ot_session=") && setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            let offsite = try console.form("/login", cookie: nil, [("username", "admin"), ("password", Self.passwords["admin"]!), ("next", "//evil.example/x")])
            #expect(offsite.status == 303 && offsite.header("Location") == "/board", "no open redirect")
            let admin = String(try #require(setCookie.split(separator: ";").first))
            #expect(try console.get("/board", cookie: admin).status == 200)
            #expect(try console.get("/board", cookie: "ot_session=forged.cookie").status == 303)
            let adminCSRF = try console.csrf(admin)
            // Another admin session has another token.
            let admin2 = try console.signIn("admin")
            let admin2CSRF = try console.csrf(admin2)
            #expect(adminCSRF != admin2CSRF)

            // A dead letter: a malformed command to commercial.
            let deadId = "dead-\(run)"
            #expect(try await crm.publishRaw(Array(#"{"specversion": "1.0", "type": "workorder.open", "data": "#.utf8), routingKey: OpenWorkOrder.type, messageId: deadId) == .confirmed)
            #expect(try await eventually(timeout: .seconds(30)) { try await probe.queueStatus("commercial.dead").messages == 1 })

            // One dead-letter queue that does not exist yet (only commercial and the console ran in
            // this vhost: `approval.dead` is missing, as where a service has not started yet) hides
            // nobody else's letters: the page shows what it can read and says what it could not.
            let viewer = try console.signIn("viewer"), operatorSession = try console.signIn("operator")
            let partial = try console.get("/dead-letters", cookie: admin)
            #expect(partial.status == 200 && partial.text.contains(deadId), "a missing <service>.dead queue broke /dead-letters: \(partial.status)")
            #expect(partial.text.contains("could not read approval.dead"))
            // Every service's dead-letter queue, as each service declares it at its start.
            let missing = Platform.services.map(\.name).filter { !["commercial", "console"].contains($0) }
            try await probe.declare(Topology(queues: missing.map { .quorum("\($0).dead") }))

            // Everyone may look at the dead letters; only an admin gets the replay forms.
            let deadPage = try console.get("/dead-letters", cookie: admin)
            #expect(deadPage.status == 200, "\(deadPage)")
            #expect(deadPage.text.contains(deadId) && deadPage.text.contains("action=\"/dead-letters/commercial/replay\""))
            #expect(deadPage.text.contains("<tr data-service=\"commercial\"><td>commercial</td><td class=\"num\">1</td>"))
            let viewerPage = try console.get("/dead-letters", cookie: viewer)
            #expect(viewerPage.status == 200 && viewerPage.text.contains(deadId) && !viewerPage.text.contains("/replay\""))

            // Forms without the session's token, or with another session's: 403, nothing done.
            let replay = "/dead-letters/commercial/replay"
            let noToken = try console.form(replay, cookie: admin, [("id", deadId)])
            #expect(noToken.status == 403, "\(noToken)")
            let otherToken = try console.form(replay, cookie: admin, [("_csrf", admin2CSRF), ("id", deadId)])
            #expect(otherToken.status == 403, "\(otherToken)")
            #expect(try console.form("/logout", cookie: admin, []).status == 403)
            #expect(try console.form("/logout", cookie: admin, [("_csrf", admin2CSRF)]).status == 403)
            #expect(try console.form(replay, cookie: nil, [("_csrf", adminCSRF), ("id", deadId)]).status == 401)
            // Viewers and operators may not replay, even with their own valid token.
            let asViewer = try console.form(replay, cookie: viewer, [("_csrf", try console.csrf(viewer)), ("id", deadId)])
            #expect(asViewer.status == 403, "\(asViewer)")
            let asOperator = try console.form(replay, cookie: operatorSession, [("_csrf", try console.csrf(operatorSession)), ("id", deadId)])
            #expect(asOperator.status == 403, "\(asOperator)")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await probe.queueStatus("commercial.dead").messages == 1, "still dead")

            // The admin replays it: it leaves commercial.dead (commercial recognises the message it
            // already handled and does not dead-letter it again).
            let replayed = try console.form(replay, cookie: admin, [("_csrf", adminCSRF), ("id", deadId)])
            #expect(replayed.status == 303, "\(replayed)")
            let location = try #require(replayed.header("Location"))
            #expect(location.hasPrefix("/dead-letters?notice="))
            #expect(location.removingPercentEncoding?.contains("1 dead letter(s) replayed") == true, "\(location)")
            #expect(try await eventually(timeout: .seconds(10)) { try await probe.queueStatus("commercial.dead").messages == 0 })
            try await Task.sleep(for: .seconds(1))
            #expect(try await probe.queueStatus("commercial.dead").messages == 0, "not dead-lettered again")
            let afterPage = try console.get(location, cookie: admin)
            #expect(afterPage.status == 200 && !afterPage.text.contains(deadId) && afterPage.text.contains("1 dead letter(s) replayed"))
            #expect(consoleProcess.log.contains("dead letters replayed"))

            // Sign-out with the token: back to the sign-in, the cookie cleared.
            let out = try console.form("/logout", cookie: admin2, [("_csrf", admin2CSRF)])
            #expect(out.status == 303 && out.header("Location") == "/login" && out.header("Set-Cookie")?.contains("Max-Age=0") == true, "\(out)")
            #expect(commercial.isRunning && consoleProcess.isRunning)
        }
    }

    // MARK: 4–6. Indicators, rebuild, OpenAPI

    @Test func indicatorsCountTheCasesOfTheMonthTheSchemaIsRebuiltAfterADropAndTheOpenAPIDocumentIsTheCommittedOne() async throws {
        try await withTestSystem("con-kpi") { system in
            let console = try await Self.ready(try Self.startConsole(system))
            let sender = try await system.sender()
            let run = UUID().uuidString.prefix(6).lowercased()
            let now = Date(), thisMonth = YearMonth(now).description
            let viewerToken = Self.tokens["viewer"]!

            // Records: two retrievals asked this month, one delivered (as the records service says).
            try await Self.send(sender, RetrievalRequested(retrievalId: "R-\(run)-1", fileId: "EXP-\(run)", requestedAt: now))
            try await Self.send(sender, RetrievalRequested(retrievalId: "R-\(run)-2", fileId: "EXP-\(run)", requestedAt: now))
            try await Self.send(sender, RetrievalDelivered(retrievalId: "R-\(run)-1", fileId: "EXP-\(run)", format: .copy, deliveredAt: now))
            // A pole move opened this month and attended (as commercial and dispatch say).
            let pole = "WO-\(run)-pole"
            try await Self.send(
                sender,
                WorkOrderOpened(
                    workOrderId: pole, number: "OT-BO-2026-000777", kind: .poleMove, customer: .residentialExample, documents: []))
            try await Self.send(sender, WorkOrderAttended(workOrderId: pole, outcome: .resolved))

            func series(_ console: Console) throws -> [IndicatorSeries] {
                let r = try console.get("/api/v1/kpis?month=\(thisMonth)", token: viewerToken)
                guard r.status == 200 else { throw TestFailure("kpis: \(r)") }
                return try Self.decoder.decode([IndicatorSeries].self, from: r.body)
            }
            func last(_ s: [IndicatorSeries], _ id: String) -> IndicatorMonth? { s.first { $0.indicator.id == id }?.months.last }
            var kpis: [IndicatorSeries] = []
            #expect(await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
                kpis = (try? series(console)) ?? []
                let retrieval = last(kpis, "documentRetrieval")
                return retrieval?.denominator == 2 && retrieval?.numerator == 1 && last(kpis, "poleMoves")?.numerator == 1
            }, "\(kpis.map { "\($0.indicator.id) \($0.months.last.map { "\($0.numerator)/\($0.denominator)" } ?? "-")" })")
            #expect(kpis.map(\.indicator.id) == ["poleMoves", "postSaleEfficacy", "postSaleTimeliness", "repeatedDamages", "documentRetrieval"])
            for s in kpis {
                #expect(s.months.count == 12 && s.months.last?.month == thisMonth, "\(s.indicator.id)")
                #expect(s.months.map(\.month) == s.months.map(\.month).sorted(), "oldest first")
                #expect(s.months.dropLast().allSatisfy { $0.denominator == 0 && $0.verdict == .noData }, "nothing in earlier months")
            }
            let retrieval = try #require(last(kpis, "documentRetrieval"))
            #expect(retrieval.numerator == 1 && retrieval.denominator == 2 && retrieval.percent == 50 && retrieval.verdict == .observed)
            let poles = try #require(last(kpis, "poleMoves"))
            #expect(poles.numerator == 1 && poles.denominator == 1 && poles.verdict == .approved)
            for id in ["postSaleEfficacy", "postSaleTimeliness", "repeatedDamages"] {
                #expect(last(kpis, id)?.denominator == 0 && last(kpis, id)?.verdict == .noData, "\(id)")
            }
            // Next month the retrievals are history: they stay in this month's column.
            let next = try console.get("/api/v1/kpis?month=\(YearMonth(now).adding(months: 1))&months=2", token: viewerToken)
            let nextSeries = try Self.decoder.decode([IndicatorSeries].self, from: next.body)
            let nextRetrieval = nextSeries.first { $0.indicator.id == "documentRetrieval" }?.months
            #expect(nextRetrieval?.count == 2 && nextRetrieval?.first?.denominator == 2 && nextRetrieval?.last?.denominator == 0)
            #expect(try console.get("/api/v1/kpis?month=2026-13", token: viewerToken).status == 400)
            #expect(try console.get("/api/v1/kpis?months=37", token: viewerToken).status == 400)
            #expect(try console.get("/api/v1/kpis").status == 401)
            let viewer = try console.signIn("viewer")
            let kpiPage = try console.get("/kpis?month=\(thisMonth)", cookie: viewer)
            #expect(kpiPage.status == 200 && kpiPage.text.contains("Document retrieval"))

            // 6. The OpenAPI document served (public) is the committed one.
            let openapi = try console.get("/api/v1/openapi.json")
            #expect(openapi.status == 200 && openapi.header("Content-Type")?.hasPrefix("application/json") == true)
            let committed = try Data(contentsOf: packageRoot.appendingPathComponent("deploy/console-openapi.json"))
            let served = try JSONDecoder().decode(JSONValue.self, from: openapi.body)
            let file = try JSONDecoder().decode(JSONValue.self, from: committed)
            #expect(served == file, "deploy/console-openapi.json drifted from GET /api/v1/openapi.json (regenerate it with `console openapi`)")

            // 5. Rebuild. The read model is derived data, rebuilt by replaying events: an ordinary
            // queue does not keep an event once the console consumed it, so a full rebuild needs a
            // replay source. The console keeps its own: the stream `console.events.log`
            // (ConsoleEventLog, kept CONSOLE_LOG_MAX_AGE), which it replays into its input queue at
            // start when its schema is missing or holds no view (unless CONSOLE_REPLAY=off), or on
            // `console replay`; the inbox makes the replay idempotent. Events older than the
            // stream's retention, or from before it existed, cannot come back.
            let before = try series(console)
            let listBefore = try console.list(token: viewerToken)
            let process = console.process
            // A browser watching the board keeps an event stream open: it must not hold the
            // shutdown (the server's graceful shutdown waits for open requests).
            let stream = FileManager.default.temporaryDirectory.appendingPathComponent("sse-\(UUID().uuidString)").path
            let watcher = try spawn(
                ["curl", "-sN", "--max-time", "60", "-H", "Authorization: Bearer \(viewerToken)", console.base + "/board/events"],
                environment: ProcessInfo.processInfo.environment, outputPath: stream)
            #expect(await eventually(timeout: .seconds(10)) { ((try? String(contentsOfFile: stream, encoding: .utf8)) ?? "").contains("event: hello") })
            let stopped = await process.terminate()
            #expect(stopped.took < .seconds(10), "SIGTERM with an event stream open took \(stopped.took)")
            Foundation.kill(watcher, SIGKILL)
            _ = exitStatus(watcher)
            // (This crashed with "Fatal error: Error raised at top level: Swift.CancellationError()",
            // exit 132, until watchBoard() stopped throwing on cancellation — ConsoleHTTP.swift.)
            #expect(stopped.status == 0, "a clean stop on SIGTERM; log \(process.logURL.path)")
            #expect(!process.log.contains("Fatal error"))
            func dropSchema() async throws {
                try await TestSystem.withConnection(database: system.database) { conn in
                    _ = try await conn.query("DROP SCHEMA console CASCADE", logger: testLogger)
                }
                #expect(try await system.count("SELECT count(*)::int8 FROM information_schema.schemata WHERE schema_name = 'console'") == 0)
            }
            try await dropSchema()

            // Without the replay: the migrations recreate the schema, and the console serves an
            // empty read model without errors.
            var env = Self.environment
            env["CONSOLE_REPLAY"] = "off"
            let bare = try await Self.ready(try system.start("console", environment: env))
            #expect(try await system.count("SELECT count(*)::int8 FROM information_schema.schemata WHERE schema_name = 'console'") == 1)
            #expect(try await system.count("SELECT count(*)::int8 FROM console.schema_migrations WHERE component = 'service'") == ConsoleMigrations.all.count)
            #expect(try await system.count("SELECT count(*)::int8 FROM pg_indexes WHERE schemaname = 'console' AND indexname IN ('board_order', 'board_counts')") == 2)
            #expect(try await system.count("SELECT count(*)::int8 FROM console.aggregates") == 0)
            let empty = try bare.list(token: viewerToken)
            #expect(empty.total == 0 && empty.items.isEmpty)
            // The session made before the restarts still holds (same secret); the board is empty.
            let rows = try bare.get("/board/rows", cookie: viewer)
            #expect(rows.status == 200 && rows.header("X-Board-Total") == "0" && rows.text.contains("No OT matches"), "\(rows)")
            #expect(try bare.get("/board", cookie: viewer).status == 200)
            #expect(try bare.get("/procedures", cookie: viewer).status == 200)
            let emptyKPIs = try Self.decoder.decode([IndicatorSeries].self, from: try bare.get("/api/v1/kpis?month=\(thisMonth)", token: viewerToken).body)
            #expect(emptyKPIs.count == 5 && emptyKPIs.allSatisfy { $0.months.allSatisfy { $0.denominator == 0 } })
            #expect(try bare.get("/api/v1/workorders/\(pole)", token: viewerToken).status == 404, "gone with the schema")
            #expect(!bare.process.log.contains("console page failed") && !bare.process.log.contains("console API failed"))
            #expect(await bare.process.terminate().status == 0)

            // With the replay (the default): dropped again, the schema comes back with every view
            // it had, from the event log.
            try await dropSchema()
            let rebuilt = try await Self.ready(try Self.startConsole(system))
            var after: [IndicatorSeries] = []
            #expect(await eventually(timeout: .seconds(30), every: .milliseconds(250)) {
                after = (try? series(rebuilt)) ?? []
                return after == before
            }, "the indicators come back: \(after.map { "\($0.indicator.id) \($0.months.last.map { "\($0.numerator)/\($0.denominator)" } ?? "-")" })")
            let listAfter = try rebuilt.list(token: viewerToken)
            #expect(listAfter.ids == listBefore.ids && listAfter.total == listBefore.total)
            let poleView = try #require(try rebuilt.detail(pole))
            #expect(poleView.row.status == "attended" && poleView.row.kind == "poleMove" && poleView.outcome == "resolved")
            #expect(poleView.timeline.map(\.type).sorted() == [WorkOrderAttended.type, WorkOrderOpened.type])
            #expect(await eventually(timeout: .seconds(10)) { rebuilt.process.log.contains("replay finished") })
            #expect(try await system.count("SELECT count(*)::int8 FROM console.replays WHERE finished_at IS NOT NULL") == 1)
            // Events published now are folded as usual.
            let again = "WO-\(run)-again"
            try await Self.send(
                sender,
                WorkOrderOpened(workOrderId: again, number: "OT-BO-2026-000778", kind: .repair, customer: .residentialExample, documents: []))
            #expect(await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
                Set((try? rebuilt.list(token: viewerToken))?.ids ?? []) == Set(listBefore.ids + [again])
            })
            #expect(!rebuilt.process.log.contains("console page failed") && !rebuilt.process.log.contains("console API failed"))
            #expect(rebuilt.process.isRunning)
        }
    }
}

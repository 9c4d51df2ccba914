import AMQP
import ArgumentParser
import Contracts
import Foundation
import Runtime
import Synchronization

/// Drives a few OTs through their whole lifecycle and prints every event as it flows, so a
/// newcomer sees the platform work: a private project in Chile, a public tender in Colombia with
/// its deadline, a pole move in Bolivia (CxC paid at the cashier first), a project whose purchase
/// order arrives late, and one cancelled; then the post-sale act (8), the repeated-damage act
/// (9) and the records act (10); it ends with the invoices.
struct Demo: OTCtlCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Drive OTs through their lifecycle and print the events as they flow.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Seconds to wait for each step.")
    var timeout = 60

    @Option(help: "The records service's document endpoint (default: RECORDS_PUBLIC_URL or http://127.0.0.1:8088).")
    var documentsURL = ProcessInfo.processInfo.environment["RECORDS_PUBLIC_URL"] ?? "http://127.0.0.1:8088"

    func execute() async throws {
        try await Broker.withConnection(global) { connection in
            let watch = try await EventWatch.start(connection, printEvents: true)
            let user = try? AMQPURL(string: global.resolvedURL).user
            try await DemoScript(
                connection: connection, user: user, watch: watch, timeout: .seconds(timeout), documentsURL: documentsURL
            ).run()
        }
    }
}

/// Every event on `ot.events`, seen through an exclusive queue of the tool.
final class EventWatch: Sendable {
    private let seen = Mutex<[(header: EnvelopeHeader, body: Data)]>([])

    static func start(_ connection: AMQPConnection, printEvents: Bool) async throws -> EventWatch {
        let queue = "otctl.demo.\(UUID().uuidString.prefix(8).lowercased())"
        try await connection.declare(
            Topology(
                queues: [.init(name: queue, durable: false, exclusive: true, autoDelete: true)],
                bindings: [.init(queue: queue, exchange: PlatformTopology.events, routingKey: "#")]))
        let consumer = try await connection.consume(queue: queue, prefetch: 500)
        let watch = EventWatch()
        Task {
            for await d in consumer.deliveries {
                connection.ack(d)
                guard let header = try? Wire.decodeHeader(d.body) else { continue }
                watch.seen.withLock { $0.append((header, Data(d.body))) }
                if printEvents { Console.line("    ← " + DemoScript.describe(header, Data(d.body))) }
            }
        }
        return watch
    }

    /// Decoded events of one type.
    func events<M: Message>(_ type: M.Type) -> [Envelope<M>] {
        seen.withLock { $0.filter { $0.header.type == M.type } }.compactMap { try? Wire.decode(M.self, from: $0.body) }
    }

    /// Waits for the first event of a type that matches.
    func first<M: Message>(
        _ type: M.Type, timeout: Duration, where match: (M) -> Bool = { _ in true }
    ) async throws -> Envelope<M> {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let e = events(type).first(where: { match($0.data) }) { return e }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CLIError("no \(M.type) within \(timeout): is every service running?")
    }
}

struct DemoScript {
    let connection: AMQPConnection
    /// The broker user the demo publishes as (stamped as `user_id`).
    let user: String?
    let watch: EventWatch
    let timeout: Duration
    /// The records service's document endpoint.
    let documentsURL: String
    let run = String(Int(Date().timeIntervalSince1970) % 100_000)

    func say(_ text: String) { Console.line("\n\(text)") }

    func send<M: Message>(_ command: M, correlation: String? = nil) async throws {
        _ = try await sendReturningId(command, correlation: correlation)
    }

    /// Sends a command and returns its envelope id (what a `command.rejected` names).
    func sendReturningId<M: Message>(_ command: M, correlation: String? = nil) async throws -> String {
        let envelope = Envelope(source: "/ot/otctl", correlationId: correlation, causationId: nil, data: command)
        Console.line("  → \(M.type)  \(JSONText.summary(try? JSONText.parse(Data(try Wire.encodeBytes(envelope)))["data"], limit: 110))")
        var message = try EnvelopeCodec.outgoing(envelope, appId: "otctl")
        message.properties.userId = user
        let outcome = try await connection.publish(message)
        guard outcome == .confirmed else { throw CLIError("\(M.type) not accepted by the broker: \(outcome)") }
        return envelope.id
    }

    /// The correlation id of an OT's case, to send follow-up commands in the same case.
    func correlation(_ workOrderId: String) -> String? {
        watch.events(WorkOrderOpened.self).first { $0.data.workOrderId == workOrderId }?.correlationid
    }

    func customer(_ id: String, _ name: String, _ taxId: String, _ sector: Sector, _ country: Country) -> Customer {
        Customer(id: id, name: name, taxId: taxId, sector: sector, segment: .enterprise, country: country)
    }

    func run() async throws {
        let cl = "DEMO-\(run)-CL", co = "DEMO-\(run)-CO", late = "DEMO-\(run)-LATE", gone = "DEMO-\(run)-GONE"
        let offer = { (c: String) in Document(kind: .offer, uri: "s3://ot-docs/\(c)/oferta.pdf") }

        say("1. Purchase orders arrive; the account managers open the OTs (SGC-PC-07 §4.1–4.3)")
        try await send(
            OpenWorkOrder(
                workOrderId: cl, kind: .project, serviceLine: .csv,
                customer: customer("C-CL-77", "Minera Los Andes SpA", "76.543.210-3", .private, .cl),
                purchaseOrder: PurchaseOrder(number: "OC-4410", amount: Money(minor: 12_500_000, currency: .clp)),
                documents: [offer("C-CL-77"), Document(kind: .purchaseOrder, uri: "s3://ot-docs/C-CL-77/oc-4410.pdf")],
                description: "Medición de calidad de energía en planta"))
        try await send(
            OpenWorkOrder(
                workOrderId: co, kind: .project, serviceLine: .gep,
                customer: customer("C-CO-12", "Alcaldía de Medellín", "890905211-1", .public, .co),
                purchaseOrder: PurchaseOrder(number: "LP-2026-88", amount: Money(minor: 98_000_000, currency: .cop)),
                documents: [offer("C-CO-12"), Document(kind: .contract, uri: "s3://ot-docs/C-CO-12/contrato.pdf")],
                dueBy: Date().addingTimeInterval(30 * 86_400),
                description: "Consultoría de eficiencia energética (licitación pública)",
                travel: Travel(destination: "Rionegro", budget: Money(minor: 1_800_000, currency: .cop))))
        try await send(
            OpenWorkOrder(
                workOrderId: late, kind: .project, serviceLine: .spot,
                customer: customer("C-BO-9", "Cooperativa Andina", "1020304050", .private, .bo),
                purchaseOrder: PurchaseOrder(number: "OC-77", amount: Money(minor: 1_500_000, currency: .bob)),
                documents: [offer("C-BO-9")], description: "Levantamiento de equipos"))
        try await send(
            OpenWorkOrder(
                workOrderId: gone, kind: .project, serviceLine: .csv,
                customer: customer("C-CL-80", "Viña del Valle Ltda", "77.111.222-3", .private, .cl),
                documents: [offer("C-CL-80"), Document(kind: .signedQuote, uri: "s3://ot-docs/C-CL-80/cotizacion.pdf")],
                description: "Auditoría eléctrica"))
        _ = try await watch.first(WorkOrderDispatched.self, timeout: timeout) { $0.workOrderId == co }
        let travel = try await watch.first(TravelBudgetRequested.self, timeout: timeout) { $0.workOrderId == co }.data
        say("   the public tender \(co) works in \(travel.destination): \(travel.requestedBy) asks the \(travel.requestedFrom) for its travel budget (§4.5)")
        _ = try await watch.first(WorkOrderApprovalPending.self, timeout: timeout) { $0.workOrderId == late }

        say("2. The purchase order of \(late) arrives as a signed quotation: the quality gate re-evaluates (§4.4)")
        try await send(
            AttachDocument(workOrderId: late, document: Document(kind: .signedQuote, uri: "s3://ot-docs/C-BO-9/cotizacion-firmada.pdf")),
            correlation: correlation(late))
        _ = try await watch.first(WorkOrderDispatched.self, timeout: timeout) { $0.workOrderId == late }

        say("3. A pole move for someone with no active service (OPE-SUM-GES-P08): CxC of Bs 1000 first")
        try await send(RequestPoleMove(requester: Payer(name: "Rosa Mamani", idNumber: "7788990"), address: "Calle Jordán 120, Cochabamba", isExistingCustomer: false))
        let charge = try await watch.first(ChargeCreated.self, timeout: timeout) { $0.payer.idNumber == "7788990" }
        say("   the cashier takes the payment")
        try await send(RecordPayment(chargeId: charge.data.chargeId, amount: charge.data.amount, receipt: "CAJA-\(run)"), correlation: charge.correlationid)
        let poleMove = try await watch.first(WorkOrderOpened.self, timeout: timeout) { $0.kind == .poleMove && $0.customer.taxId == "7788990" }
        let pm = poleMove.data.workOrderId
        _ = try await watch.first(WorkOrderDispatched.self, timeout: timeout) { $0.workOrderId == pm }
        say("   a pole move asked under the NIT of Cooperativa Andina, whose OT was opened in step 1: the platform knows it, so the generic procedure applies (step 1)")
        let known = RequestPoleMove(requester: Payer(name: "Cooperativa Andina", idNumber: "1020304050"), address: "Av. América 300, Cochabamba", isExistingCustomer: false)
        let knownId = try await sendReturningId(known)
        let refusal = try await watch.first(CommandRejected.self, timeout: timeout) { $0.commandId == knownId }
        say("   refused: \(refusal.data.code) — \(refusal.data.message)")
        say("   a second pole move, paid too: its CxC names its OT, which billing sees opened")
        try await send(RequestPoleMove(requester: Payer(name: "Juan Quispe", idNumber: "6655443"), address: "Av. Petrolera km 3, Cochabamba", isExistingCustomer: false))
        let charge2 = try await watch.first(ChargeCreated.self, timeout: timeout) { $0.payer.idNumber == "6655443" }
        try await send(RecordPayment(chargeId: charge2.data.chargeId, amount: charge2.data.amount, receipt: "CAJA-\(run)-2"), correlation: charge2.correlationid)
        let pm2 = try await watch.first(WorkOrderOpened.self, timeout: timeout) { $0.kind == .poleMove && $0.customer.taxId == "6655443" }.data.workOrderId
        _ = try await watch.first(WorkOrderDispatched.self, timeout: timeout) { $0.workOrderId == pm2 }

        say("4. The client of \(gone) withdraws, and the pole of \(pm2) turns out to be on private land: both OTs are cancelled (ANULADO)")
        try await send(CancelWorkOrder(workOrderId: gone, reason: "el cliente desiste del servicio"), correlation: correlation(gone))
        _ = try await watch.first(WorkOrderCancelled.self, timeout: timeout) { $0.workOrderId == gone }
        try await send(CancelWorkOrder(workOrderId: pm2, reason: "el poste está en propiedad privada: no procede"), correlation: correlation(pm2))
        _ = try await watch.first(WorkOrderCancelled.self, timeout: timeout) { $0.workOrderId == pm2 }
        say("   the customer-service head records the corrective action of the ANULADO pole move (OPE-SUM-GES-P08 step 11)")
        try await send(
            RecordCorrectiveAction(workOrderId: pm2, action: "se orientó al solicitante a tramitar el permiso del propietario", by: "resp.atencion"),
            correlation: correlation(pm2))
        _ = try await watch.first(CorrectiveActionRecorded.self, timeout: timeout) { $0.workOrderId == pm2 }

        say("5. Operations: inspectors assigned, field work done, OTs closed by the heads (§4.5–4.6)")
        for id in [cl, co, late, pm] {
            try await send(
                AssignWorkOrder(workOrderId: id, assignee: Assignee(id: "T-7", name: "Carlos Rojas", role: "inspector")),
                correlation: correlation(id))
        }
        for id in [cl, co, late, pm] {
            _ = try await watch.first(WorkOrderAssigned.self, timeout: timeout) { $0.workOrderId == id }
            try await send(ReportOutcome(workOrderId: id, outcome: .resolved, notes: "trabajo concluido"), correlation: correlation(id))
        }
        for id in [cl, co, late, pm] {
            _ = try await watch.first(WorkOrderAttended.self, timeout: timeout) { $0.workOrderId == id }
            try await send(CloseWorkOrder(workOrderId: id, by: "head.operaciones"), correlation: correlation(id))
        }

        say("6. Billing drafts the prefacturas; the commercial head reviews them (§4.6); invoices follow (§4.7)")
        for id in [cl, co] {
            let p = try await watch.first(PrefacturaIssued.self, timeout: timeout) { $0.workOrderId == id }
            try await send(ReviewPrefactura(prefacturaId: p.data.prefacturaId, decision: .approve, by: "commercial.head"), correlation: correlation(id))
        }
        let draft = try await watch.first(PrefacturaIssued.self, timeout: timeout) { $0.workOrderId == late }.data
        say("   the prefactura of \(late) is returned: the agreed discount is missing; the quality controller sends the corrected lines")
        try await send(
            ReviewPrefactura(prefacturaId: draft.prefacturaId, decision: .return, by: "commercial.head", notes: "Falta el descuento acordado del 10 %"),
            correlation: correlation(late))
        _ = try await watch.first(PrefacturaReturned.self, timeout: timeout) { $0.prefacturaId == draft.prefacturaId }
        let discounted = draft.lines.map { line in
            var l = line
            l.unitPrice.minor = line.unitPrice.minor * 9 / 10
            l.amount.minor = l.unitPrice.minor * Int64(l.quantity)
            return l
        }
        try await send(
            CorrectPrefactura(prefacturaId: draft.prefacturaId, workOrderId: late, lines: discounted, by: "quality.controller", notes: "descuento del 10 %"),
            correlation: correlation(late))
        let corrected = try await watch.first(PrefacturaIssued.self, timeout: timeout) { $0.workOrderId == late && $0.corrects == draft.prefacturaId }
        try await send(
            ReviewPrefactura(prefacturaId: corrected.data.prefacturaId, decision: .approve, by: "commercial.head"), correlation: correlation(late))
        var invoices: [InvoiceIssued] = []
        for id in [cl, co, late] {
            invoices.append(try await watch.first(InvoiceIssued.self, timeout: timeout) { $0.workOrderId == id }.data)
        }

        say("7. The heads deliver the reports to the customers; the projects' customers get the satisfaction survey, the pole move none (§4.8)")
        for id in [cl, co, late, pm] {
            try await send(
                DeliverReport(workOrderId: id, report: Document(kind: .other, uri: "s3://ot-docs/\(id)/informe.pdf"), by: "head.operaciones"),
                correlation: correlation(id))
        }
        for id in [cl, co, late] {
            _ = try await watch.first(SurveyRequested.self, timeout: timeout) { $0.workOrderId == id }
        }
        try await postSale()
        try await repeatedDamage()
        try await records()
        try await Task.sleep(for: .milliseconds(500))

        say("Invoices")
        for i in invoices {
            Console.line("  \(i.invoiceId)  \(i.workOrderId)  \(i.amount.minor) \(i.amount.currency.rawValue) (minor units)  issued by \(i.issuer.rawValue)")
        }
        Console.line("  pole move \(pm): settled by CxC \(charge.data.chargeId) (Bs \(charge.data.amount.minor / 100))")
        Console.line("  pole move \(pm2): cancelled after its CxC \(charge2.data.chargeId) was paid — a refund of Bs \(charge2.data.amount.minor / 100) is due (otctl reconcile)")
        Console.line(
            "\nSurveys requested: \(watch.events(SurveyRequested.self).count); rejected commands: \(watch.events(CommandRejected.self).count) "
                + "(the known customer's pole move)")
    }

    /// `type  key fields` for an event line.
    static func describe(_ header: EnvelopeHeader, _ body: Data) -> String {
        let data = (try? JSONText.parse(body))?["data"]
        return "\(header.type)  \(JSONText.summary(data, limit: 120))"
    }
}

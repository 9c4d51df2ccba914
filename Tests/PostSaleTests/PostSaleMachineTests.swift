import Contracts
import Foundation
import PostSale
import Runtime
import Testing

/// The post-sale machines as tables: one machine for thirteen flows cannot be covered by one
/// representative per state (an in-progress request is a different machine at each step), so the
/// tables run every input on many representatives — each flow walked with `decide` to each of its
/// waiting steps, and to its ends — and the assertions hold over all of them.
enum PSM {
    typealias Request = PostSaleRequest
    typealias Contract = PostSaleContract
    typealias Rep = (name: String, state: Request.State)

    static let now = PS.t0
    static let id = "PV-1"
    static let workOrderId = Request.workOrderId(id)
    static let allProducts = ["LIN-1", "INT-1", "TV-1", "MPK-1"]
    static let promisedPaymentPrefix = "promisedPayment"
    static let requirementsDonePrefix = "requirementsMissing (just completed)"

    // MARK: Details of each flow

    static let transfer: JSONObject = ["productIds": ["INT-1"], "newAddress": "Av. América 123", "technologyChange": false]
    static let supplementary: JSONObject = ["productId": "LIN-1", "service": "callerId", "action": "enable"]
    static let planChange: JSONObject = ["productId": "INT-1", "newPlan": "Internet 200 Mbps", "newMonthly": ["minor": 45_000, "currency": "BOB"]]
    static let damage: JSONObject = ["productId": "INT-1", "fault": "Sin servicio", "address": "Calle Jordán 457", "referencePhone": "+591 71234567"]
    static let claim: JSONObject = ["month": "2026-10", "claim": "Cobro duplicado de la línea"]
    static let collection: JSONObject = ["month": "2026-11", "promisedBy": "2026-12-10"]
    static let fiber: JSONObject = ["finding": "fiberMigration", "productId": "INT-1"]
    static let fiberWithCable: JSONObject = ["finding": "fiberMigration", "productId": "INT-1", "surplusCable": ["minor": 30_000, "currency": "BOB"]]
    static let visit: JSONObject = ["productId": "INT-1", "notes": "El cliente pide revisión del router"]
    static func withdrawal(_ requestDate: String) -> JSONObject {
        ["productIds": ["INT-1"], "requestDate": .string(requestDate), "reason": "Cierre de la sucursal"]
    }

    // MARK: Inputs

    static let feasible = Request.Input.feasibility(RecordFeasibility(requestId: id, feasible: true, notes: "NAP con puertos libres"))
    static let notFeasible = Request.Input.feasibility(RecordFeasibility(requestId: id, feasible: false, notes: "Sin cobertura"))
    static let retained = Request.Input.retention(RecordRetention(requestId: id, accepted: true, offer: "Tres meses al 50 %"))
    static let notRetained = Request.Input.retention(RecordRetention(requestId: id, accepted: false, offer: "Tres meses al 50 %"))
    static let penaltyAccepted = Request.Input.penalty(RecordPenaltyDecision(requestId: id, accepted: true))
    static let penaltyRefused = Request.Input.penalty(RecordPenaltyDecision(requestId: id, accepted: false))
    static let equipment = Request.Input.equipment(RecordEquipment(requestId: id, complete: false, damaged: false, notes: "Falta el control remoto"))
    static let equipmentComplete = Request.Input.equipment(RecordEquipment(requestId: id, complete: true, damaged: false))
    static let remoteFix = Request.Input.diagnosis(RecordDiagnosis(requestId: id, remoteFix: true, findings: "Canal wifi saturado"))
    static let visitNeeded = Request.Input.diagnosis(RecordDiagnosis(requestId: id, remoteFix: false, findings: "Señal óptica baja"))
    static let clientAccepts = Request.Input.clientDecision(RecordClientDecision(requestId: id, accepted: true, notes: "Conforme"))
    static let clientRefuses = Request.Input.clientDecision(RecordClientDecision(requestId: id, accepted: false, notes: "No conforme"))
    static let resolution = Request.Input.claimResolution(RecordClaimResolution(requestId: id, resolution: "Se anula el cargo duplicado (Bs 70)"))
    static let qualityCheck = Request.Input.qualityCheck(RecordPostSaleQualityCheck(requestId: id, ok: true, notes: "Cliente conforme"))
    static let complete = Request.Input.complete(CompletePostSaleRequirements(requestId: id, documents: [PS.letter], details: nil))
    static let abandon = Request.Input.abandon(AbandonPostSale(requestId: id, reason: "El cliente desiste"))
    static let closed = Request.Input.workOrderClosed(
        WorkOrderClosed(workOrderId: workOrderId, kind: .transfer, customer: PS.customer, outcome: .resolved, closedAt: now))
    static let cancelled = Request.Input.workOrderCancelled(WorkOrderCancelled(workOrderId: workOrderId, reason: "Cliente ausente"))

    // MARK: Contracts

    static let octoberProforma = ProformaIssued(
        proformaId: "PF-CT-1-2026-10", contractId: PS.contractId, month: YearMonth(2026, 10)!,
        lines: [ProformaLine(productId: "INT-1", description: "Internet INT-1", amount: .bolivianos(349))], total: .bolivianos(349),
        dueBy: Day(2026, 11, 20)!)

    /// Facts of the contract: as registered; with October's proforma unpaid; with LIN-1
    /// suspended since 2026-11-01; with an October claim assigned to UTAR, or attended.
    static func contracts() throws -> (plain: Contract.State, inDebt: Contract.State, suspended: Contract.State, claimAssigned: Contract.State, claimAttended: Contract.State) {
        let plain = try PS.contract()
        let inDebt = try PS.step(Contract.self, plain, .proformaIssued(octoberProforma))
        let suspended = try PS.applied(plain, .suspend(productIds: ["LIN-1"], from: Day(2026, 11, 1)!, to: Day(2027, 1, 31)!))
        let assigned = try PS.applied(plain, .registerClaim(month: YearMonth(2026, 10)!))
        let attended = try PS.applied(assigned, .resolveClaim(resolution: "Cargo anulado"))
        return (plain, inDebt, suspended, assigned, attended)
    }

    // MARK: Walking a flow

    static func open(
        _ flow: PostSaleFlow, _ details: JSONObject, documents: [Document] = [PS.letter], facts: Contract.State?
    ) throws -> Request.State {
        try PS.step(Request.self, nil, .open(PS.request(flow, details, id: id, documents: documents), facts: facts))
    }

    /// The state after each input in turn (each must change it).
    static func then(_ s: Request.State, _ inputs: Request.Input...) throws -> Request.State {
        var s = s
        for input in inputs { s = try PS.step(Request.self, s, input) }
        return s
    }

    /// Every flow walked to each of its waiting steps, and to each end.
    static func representatives() throws -> [Rep] {
        let c = try contracts()
        let missingTransfer = try open(.transfer, transfer, documents: [], facts: c.plain)
        let missingSupplementary = try open(.supplementaryService, supplementary, documents: [], facts: c.plain)
        let missingTooLong = try open(.suspension, ["from": "2026-12-01", "to": "2027-06-30"], documents: [], facts: c.plain)
        let missingEverything = try open(.suspension, [:], documents: [], facts: c.plain)
        let transferFeasibility = try open(.transfer, transfer, facts: c.plain)
        let fiberCable = try open(.preventiveCheck, fiberWithCable, documents: [], facts: c.plain)
        let retention = try open(.withdrawal, withdrawal("2027-07-01"), facts: c.plain)
        let penalty = try open(.withdrawal, withdrawal("2027-01-15"), facts: c.plain)
        let equipmentAfterRetention = try then(retention, notRetained)
        let withdrawalStep = try then(equipmentAfterRetention, equipmentComplete)
        let claimResolution = try open(.billingClaim, claim, documents: [], facts: c.plain)
        let clientDecision = try then(claimResolution, resolution)
        let promised = try open(.collection, collection, documents: [], facts: c.inDebt)
        let transferField = try then(transferFeasibility, feasible)
        let callDetail = try open(.callDetail, ["lineId": "LIN-1", "carrier": "boliviatel", "months": ["2026-11"]], documents: [], facts: c.plain)
        return [
            ("requirementsMissing: transfer without its letter", missingTransfer),
            ("requirementsMissing: supplementary service without its letter", missingSupplementary),
            ("requirementsMissing: suspension too long, without its letter", missingTooLong),
            ("requirementsMissing: suspension with nothing", missingEverything),
            ("\(requirementsDonePrefix): transfer", try then(missingTransfer, complete)),
            ("\(requirementsDonePrefix): supplementary service", try then(missingSupplementary, complete)),
            ("\(requirementsDonePrefix): suspension too long", try then(missingTooLong, complete)),
            ("feasibility: transfer", transferFeasibility),
            ("feasibility: fiber migration", try open(.preventiveCheck, fiber, documents: [], facts: c.plain)),
            ("feasibility: fiber migration with surplus cable", fiberCable),
            ("fieldWork: transfer installation", transferField),
            ("fieldWork: support visit", try then(open(.supportVisit, visit, documents: [], facts: c.plain), visitNeeded)),
            ("retention: withdrawal after the minimum permanence", retention),
            ("penaltyDecision: withdrawal inside the minimum permanence", penalty),
            ("equipment: retention refused", equipmentAfterRetention),
            ("equipment: penalty accepted", try then(penalty, penaltyAccepted)),
            ("withdrawal: equipment returned", withdrawalStep),
            ("diagnosis: internet damage", try open(.damage, damage, documents: [], facts: c.plain)),
            ("diagnosis: loyalty call with a fault", try open(.loyaltyCall, ["productId": "INT-1", "fault": "Lentitud"], documents: [], facts: c.plain)),
            ("diagnosis: preventive check found a problem", try open(.preventiveCheck, ["finding": "problem", "productId": "INT-1"], documents: [], facts: c.plain)),
            ("diagnosis: support visit", try open(.supportVisit, visit, documents: [], facts: c.plain)),
            ("claimResolution: billing claim routed to UTAR", claimResolution),
            ("claimResolution: client unsatisfied, back to UTAR", try then(clientDecision, clientRefuses)),
            ("clientDecision: UTAR's resolution informed", clientDecision),
            ("clientDecision: claim attended before", try open(.billingClaim, claim, documents: [], facts: c.claimAttended)),
            ("clientDecision: surplus cable of a fiber migration", try then(fiberCable, feasible)),
            ("\(promisedPaymentPrefix): collection with a promise", promised),
            ("awaitingQualityCheck: supplementary service", try open(.supplementaryService, supplementary, facts: c.plain)),
            ("awaitingQualityCheck: plan change", try open(.planChange, planChange, facts: c.plain)),
            ("awaitingQualityCheck: suspension", try open(.suspension, ["from": "2027-01-05", "to": "2027-02-28"], facts: c.plain)),
            ("awaitingQualityCheck: reconnection", try open(.reconnection, ["on": "2026-12-01"], documents: [], facts: c.suspended)),
            ("awaitingQualityCheck: line damage", try open(.damage, damage.merging(["productId": "LIN-1"]) { $1 }, documents: [], facts: c.plain)),
            ("awaitingQualityCheck: claim still with UTAR", try open(.billingClaim, claim, documents: [], facts: c.claimAssigned)),
            ("awaitingQualityCheck: call detail", callDetail),
            ("awaitingQualityCheck: collection without debt", try open(.collection, ["month": "2026-11"], documents: [], facts: c.plain)),
            ("awaitingQualityCheck: loyalty call, all well", try open(.loyaltyCall, [:], documents: [], facts: c.plain)),
            ("awaitingQualityCheck: preventive check, upsell", try open(.preventiveCheck, ["finding": "upsell"], documents: [], facts: c.plain)),
            ("awaitingQualityCheck: transfer installed", try then(transferField, closed)),
            ("awaitingQualityCheck: support visit remote fix", try then(open(.supportVisit, visit, documents: [], facts: c.plain), remoteFix)),
            ("awaitingQualityCheck: products withdrawn", try then(withdrawalStep, .withdrawn)),
            ("awaitingQualityCheck: promised payment settled", try then(promised, .facts(c.plain))),
            ("completed: call detail", try then(callDetail, qualityCheck)),
            ("rejected: transfer not feasible", try then(transferFeasibility, notFeasible)),
            ("rejected: unknown contract", try open(.transfer, transfer, facts: nil)),
            ("rejected: nothing to change", try open(.supplementaryService, supplementary.merging(["action": "disable"]) { $1 }, facts: c.plain)),
            ("rejected: retained", try then(retention, retained)),
            ("rejected: penalty refused", try then(penalty, penaltyRefused)),
            ("rejected: installation OT cancelled", try then(transferField, cancelled)),
            ("abandoned: transfer waiting for feasibility", try then(transferFeasibility, abandon)),
            ("abandoned: requirements missing", try then(missingEverything, abandon)),
            ("abandoned: promised payment", try then(promised, abandon)),
        ]
    }

    static let finals: Set<String> = ["completed", "rejected", "abandoned"]

    /// The name of an input's case (exhaustive: a new case must be given a column).
    static func caseName(_ input: Request.Input) -> String {
        switch input {
        case .open: "open"
        case .facts: "facts"
        case .complete: "complete"
        case .abandon: "abandon"
        case .feasibility: "feasibility"
        case .retention: "retention"
        case .penalty: "penalty"
        case .equipment: "equipment"
        case .diagnosis: "diagnosis"
        case .clientDecision: "clientDecision"
        case .claimResolution: "claimResolution"
        case .qualityCheck: "qualityCheck"
        case .workOrderClosed: "workOrderClosed"
        case .workOrderCancelled: "workOrderCancelled"
        case .withdrawn: "withdrawn"
        case .recheck: "recheck"
        }
    }

    static let allCaseNames: Set<String> = [
        "open", "facts", "complete", "abandon", "feasibility", "retention", "penalty", "equipment", "diagnosis", "clientDecision",
        "claimResolution", "qualityCheck", "workOrderClosed", "workOrderCancelled", "withdrawn", "recheck",
    ]

    static func isFact(_ input: Request.Input) -> Bool {
        switch input {
        case .facts, .withdrawn, .recheck, .workOrderClosed, .workOrderCancelled: true
        default: false
        }
    }

    static func describe(_ t: StateMachine.Transition) -> String { "\(t.from ?? "∅") → \(t.to) on \(t.on)" }
}

@Suite("post-sale request: every flow at every step × every input")
struct PostSaleRequestMachineTests {
    typealias Request = PostSaleRequest

    /// The inputs a message brings (commands and the OTs' facts), several per case where a case
    /// leads to different states.
    enum Given: CaseIterable, Sendable {
        case openTransfer, openCallDetail, openMissing, openUnknownContract, complete, abandon, feasible, notFeasible, notRetained,
            retained, penaltyAccepted, penaltyRefused, equipment, remoteFix, visitNeeded, clientAccepts, clientRefuses, claimResolution,
            qualityCheck, workOrderClosed, workOrderCancelled, recheck
    }

    /// The inputs another aggregate's decision brings: the contract's facts (settled, or with
    /// October unpaid) and its word that the products were withdrawn. Their trigger is the
    /// message that caused them, which depends on the table (see ``Cause``).
    enum FollowUp: CaseIterable, Sendable { case factsSettled, factsInDebt, withdrawn }

    /// What causes the follow-ups, one table each: the requirements completed (the contract is
    /// asked for its facts; the products withdrawn at once on the equipment), a proforma paid
    /// (collections told; a withdrawal waiting for a closed OT), the weekly re-check (the
    /// contract asked again; a withdrawal waiting for a cancelled OT).
    enum Cause: CaseIterable, Sendable {
        case requirementsCompleted, proformaPaid, recheck
        var facts: String {
            switch self {
            case .requirementsCompleted: CompletePostSaleRequirements.type
            case .proformaPaid: ProformaPaid.type
            case .recheck: StateMachine.timer(Request.recheckTimer)
            }
        }
        var withdrawn: String {
            switch self {
            case .requirementsCompleted: RecordEquipment.type
            case .proformaPaid: WorkOrderClosed.type
            case .recheck: WorkOrderCancelled.type
            }
        }
        /// Only the requests such a message reaches with facts: a completion reaches the request
        /// it completes, a payment or a re-check a collection.
        func reaches(_ name: String) -> Bool {
            switch self {
            case .requirementsCompleted: !name.hasPrefix(PSM.promisedPaymentPrefix)
            case .proformaPaid, .recheck: !name.hasPrefix(PSM.requirementsDonePrefix)
            }
        }
    }

    static func input(_ given: Given) -> (input: Request.Input, trigger: String) {
        func request(_ flow: PostSaleFlow, _ details: JSONObject, documents: [Document] = [PS.letter], facts: PostSaleContract.State?)
            -> Request.Input
        {
            .open(PS.request(flow, details, id: PSM.id, documents: documents), facts: facts)
        }
        let contract = try? PS.contract()
        switch given {
        case .openTransfer: return (request(.transfer, PSM.transfer, facts: contract), RequestPostSale.type)
        case .openCallDetail:
            return (request(.callDetail, ["lineId": "LIN-1", "carrier": "boliviatel", "months": ["2026-11"]], documents: [], facts: contract), RequestPostSale.type)
        case .openMissing: return (request(.suspension, [:], documents: [], facts: contract), RequestPostSale.type)
        case .openUnknownContract: return (request(.transfer, PSM.transfer, facts: nil), RequestPostSale.type)
        case .complete: return (PSM.complete, CompletePostSaleRequirements.type)
        case .abandon: return (PSM.abandon, AbandonPostSale.type)
        case .feasible: return (PSM.feasible, RecordFeasibility.type)
        case .notFeasible: return (PSM.notFeasible, RecordFeasibility.type)
        case .notRetained: return (PSM.notRetained, RecordRetention.type)
        case .retained: return (PSM.retained, RecordRetention.type)
        case .penaltyAccepted: return (PSM.penaltyAccepted, RecordPenaltyDecision.type)
        case .penaltyRefused: return (PSM.penaltyRefused, RecordPenaltyDecision.type)
        case .equipment: return (PSM.equipment, RecordEquipment.type)
        case .remoteFix: return (PSM.remoteFix, RecordDiagnosis.type)
        case .visitNeeded: return (PSM.visitNeeded, RecordDiagnosis.type)
        case .clientAccepts: return (PSM.clientAccepts, RecordClientDecision.type)
        case .clientRefuses: return (PSM.clientRefuses, RecordClientDecision.type)
        case .claimResolution: return (PSM.resolution, RecordClaimResolution.type)
        case .qualityCheck: return (PSM.qualityCheck, RecordPostSaleQualityCheck.type)
        case .workOrderClosed: return (PSM.closed, WorkOrderClosed.type)
        case .workOrderCancelled: return (PSM.cancelled, WorkOrderCancelled.type)
        case .recheck: return (.recheck, StateMachine.timer(Request.recheckTimer))
        }
    }

    /// A table of the follow-ups as `cause` brings them, over the representatives it reaches.
    static func followUps(_ cause: Cause, _ reps: [PSM.Rep]) throws -> MachineTable<Request, FollowUp> {
        let c = try PSM.contracts()
        return MachineTable<Request, FollowUp>(
            service: PostSaleService.definition, states: reps.filter { cause.reaches($0.name) }.map(\.state), now: PSM.now
        ) { given in
            switch given {
            case .factsSettled: (.facts(c.plain), cause.facts)
            case .factsInDebt: (.facts(c.inDebt), cause.facts)
            case .withdrawn: (.withdrawn, cause.withdrawn)
            }
        }
    }

    /// Every table's cells, with the name of their representative ("∅" when absent).
    struct Tables {
        var reps: [PSM.Rep]
        var main: MachineTable<Request, Given>
        var followUps: [(cause: Cause, table: MachineTable<Request, FollowUp>)]

        func name(_ state: Request.State?) -> String {
            guard let state else { return "∅" }
            return reps.first { $0.state == state }?.name ?? state.status
        }

        /// (representative, column, trigger, input, result, effect) of every cell.
        var cells: [(rep: String, column: String, trigger: String, input: Request.Input, state: Request.State?, effect: MachineTable<Request, Given>.Effect, result: Result<Decision<Request.State>, Rejection>)] {
            var out: [(rep: String, column: String, trigger: String, input: Request.Input, state: Request.State?, effect: MachineTable<Request, Given>.Effect, result: Result<Decision<Request.State>, Rejection>)] = []
            for cell in main.cells {
                out.append((name(cell.state), "\(cell.column)", cell.trigger, PostSaleRequestMachineTests.input(cell.column).input, cell.state, cell.effect, cell.result))
            }
            for (cause, table) in followUps {
                let inputs = Dictionary(uniqueKeysWithValues: table.inputs.map { ($0.column, $0.input) })
                for cell in table.cells {
                    out.append((name(cell.state), "\(cell.column) (\(cause))", cell.trigger, inputs[cell.column]!, cell.state,
                                MachineTable<Request, Given>.effect(cell.result, before: cell.state), cell.result))
                }
            }
            return out
        }

        var taken: Set<StateMachine.Transition> { followUps.reduce(main.taken) { $0.union($1.table.taken) } }
        var emitted: Set<String> { followUps.reduce(main.emitted) { $0.union($1.table.emitted) } }
        var refusals: [String] {
            main.refusals.map { "\(name($0.cell.state)) × \($0.cell.column) on \($0.cell.trigger): \($0.rejection)" }
                + followUps.flatMap { f in
                    f.table.refusals.map { "\(name($0.cell.state)) × \($0.cell.column) caused by \(f.cause) (\($0.cell.trigger)): \($0.rejection)" }
                }
        }
    }

    static func tables() throws -> Tables {
        let reps = try PSM.representatives()
        let main = MachineTable<Request, Given>(service: PostSaleService.definition, states: reps.map(\.state), now: PSM.now, input: input)
        return Tables(reps: reps, main: main, followUps: try Cause.allCases.map { ($0, try followUps($0, reps)) })
    }

    @Test func theRepresentativesWaitAtEveryStepAndCoverEveryStoredState() throws {
        let reps = try PSM.representatives()
        let steps = Set(reps.compactMap { $0.state.phase == .inProgress ? $0.state.step?.rawValue : nil })
        let wanted: Set<String> = [
            "feasibility", "retention", "penaltyDecision", "equipment", "withdrawal", "diagnosis", "fieldWork", "claimResolution",
            "clientDecision", "promisedPayment",
        ]
        #expect(steps == wanted)
        for rep in reps where rep.state.phase != .inProgress && rep.name.split(separator: ":")[0].split(separator: " ")[0] != rep.state.status {
            Issue.record("\(rep.name) is \(rep.state.status)\(rep.state.step.map { " (\($0.rawValue))" } ?? "")")
        }
        for rep in reps where rep.state.phase == .inProgress && !rep.name.hasPrefix(rep.state.step?.rawValue ?? "?") {
            Issue.record("\(rep.name) waits at \(rep.state.step?.rawValue ?? "no step")")
        }
        // `received` is transient: a request leaves it in the decision that opens it.
        let statuses = Set(reps.map(\.state.status))
        #expect(statuses == Set(Request.machine.states.map(\.name)).subtracting(["received"]))
        #expect(Set(reps.map(\.state.flow)) == Set(PostSaleFlow.allCases))
        #expect(Set(reps.map(\.name)).count == reps.count)
    }

    @Test func everyInputCaseHasAColumn() throws {
        let t = try Self.tables()
        let names = Set(t.main.inputs.map { PSM.caseName($0.input) } + t.followUps.flatMap { $0.table.inputs.map { PSM.caseName($0.input) } })
        #expect(names == PSM.allCaseNames)
    }

    /// The rule the runtime applies before it saves anything holds for every cell.
    @Test func theRuntimeAcceptsEveryDecision() throws {
        let t = try Self.tables()
        #expect(t.main.cells.count == (t.reps.count + 1) * Given.allCases.count)
        for refusal in t.refusals { Issue.record("the runtime refuses \(refusal)") }
    }

    @Test func everyDeclaredTransitionIsTaken() throws {
        let taken = try Self.tables().taken
        let missing = Request.machine.transitions.filter { !taken.contains($0) }
        #expect(missing.isEmpty, "never taken: \(missing.map(PSM.describe))")
        let undeclared = taken.filter { !Request.machine.transitions.contains($0) }
        #expect(undeclared.isEmpty, "taken but not declared: \(undeclared.map(PSM.describe))")
    }

    /// Events post-sale owns, and the commands it may send (an installation or visit OT, a damage
    /// report), per the platform catalog.
    @Test func onlyOwnedMessagesAreEmitted() throws {
        let emitted = try Self.tables().emitted
        let postsale = try #require(PlatformCatalog.participant("postsale"))
        for type in emitted.sorted() {
            switch MessageRegistry.descriptor(for: type)?.kind {
            case .event?: #expect(postsale.events.contains(type), "postsale emits the event \(type), which it does not own")
            case .command?: #expect(postsale.commands.contains(type), "postsale sends the command \(type), which it may not send")
            default: Issue.record("\(type) is not a registered message")
            }
        }
        #expect(emitted.isSuperset(of: [PostSaleRequestReceived.type, PostSaleRequestRejected.type, PostSaleQualityCheckRequested.type, PostSaleRequestCompleted.type, OpenWorkOrder.type, ReportDamage.type]))
    }

    /// Completed, rejected and abandoned are final: every command is refused as an invalid
    /// transition (a request opened again with the same flow and contract is a duplicate,
    /// ignored; with others its id is taken), every fact ignored. A request not known: commands
    /// are not found, facts ignored.
    @Test func aFinalRequestRefusesEveryCommandAndIgnoresEveryFact() throws {
        let t = try Self.tables()
        var checked = 0
        for cell in t.cells where cell.state == nil || PSM.finals.contains(cell.state!.status) {
            let input = cell.input
            let wanted: [MachineTable<Request, Given>.Effect]
            if case .open(let c, _) = input {
                guard let s = cell.state else { continue }
                wanted = s.flow == c.flow && s.contractId == c.contractId ? [.ignored] : [.rejected(.alreadyExists)]
            } else if PSM.isFact(input) {
                wanted = [.ignored]
            } else {
                wanted = [cell.state == nil ? .rejected(.notFound) : .rejected(.invalidTransition)]
            }
            checked += 1
            if !wanted.contains(cell.effect) { Issue.record("\(cell.rep) × \(cell.column) decides \(cell.effect), not \(wanted[0])") }
        }
        #expect(checked > 300)
    }

    /// The follow-ups do what they are for: the completed requirements start the flow, a settled
    /// debt ends the promised payment, the withdrawal ends the withdrawal; a debt still pending
    /// changes nothing.
    @Test func theFollowUpsMoveOnlyTheRequestsWaitingForThem() throws {
        let t = try Self.tables()
        for (cause, table) in t.followUps {
            for cell in table.cells {
                let rep = t.name(cell.state)
                let moves: Bool
                switch cell.column {
                case .factsSettled: moves = rep.hasPrefix(PSM.requirementsDonePrefix) || rep.hasPrefix(PSM.promisedPaymentPrefix)
                case .factsInDebt: moves = rep.hasPrefix(PSM.requirementsDonePrefix)
                case .withdrawn: moves = rep.hasPrefix("withdrawal:")
                }
                if case .transition = cell.effect { if !moves { Issue.record("\(rep) × \(cell.column) (\(cause)) moves: \(cell.effect)") } }
                else if moves { Issue.record("\(rep) × \(cell.column) (\(cause)) decides \(cell.effect)") }
            }
        }
    }
}

@Suite("post-sale contract: every state × every input")
struct PostSaleContractMachineTests {
    typealias Contract = PostSaleContract
    typealias Table = MachineTable<Contract, Given>

    /// Every input, `apply` once per effect.
    enum Given: CaseIterable, Sendable {
        case register, screen, refresh, suspend, reconnect, changePlan, setService, move, replace, withdraw, trackWorkOrder, registerClaim,
            resolveClaim, trackCollection, endCollection, proformaIssued, proformaPaid, workOrderEnded, suspensionStarts, suspensionEnds
    }

    static func column(of input: Contract.Input) -> Given {
        switch input {
        case .register: .register
        case .screen: .screen
        case .refresh: .refresh
        case .apply(_, let effect):
            switch effect {
            case .suspend: .suspend
            case .reconnect: .reconnect
            case .changePlan: .changePlan
            case .setService: .setService
            case .move: .move
            case .replace: .replace
            case .withdraw: .withdraw
            case .trackWorkOrder: .trackWorkOrder
            case .registerClaim: .registerClaim
            case .resolveClaim: .resolveClaim
            case .trackCollection: .trackCollection
            case .endCollection: .endCollection
            }
        case .proformaIssued: .proformaIssued
        case .proformaPaid: .proformaPaid
        case .workOrderEnded: .workOrderEnded
        case .suspensionStarts: .suspensionStarts
        case .suspensionEnds: .suspensionEnds
        }
    }

    static var today: Day { Day(PSM.now) }

    static func input(_ given: Given) -> Contract.Input {
        func apply(_ e: Contract.Effect) -> Contract.Input { .apply(requestId: PSM.id, e) }
        switch given {
        case .register: return .register(PS.register())
        case .screen: return .screen(PS.request(.transfer, PSM.transfer, id: PSM.id), requestId: PSM.id)
        case .refresh: return .refresh(requestId: PSM.id)
        case .suspend: return apply(.suspend(productIds: ["INT-1"], from: Day(2027, 1, 5)!, to: Day(2027, 2, 28)!))
        case .reconnect: return apply(.reconnect(on: today))
        case .changePlan: return apply(.changePlan(productId: "INT-1", plan: "Internet 200 Mbps", monthly: .bolivianos(450), on: today))
        case .setService: return apply(.setService(productId: "LIN-1", service: "callerId", enabled: true, on: today))
        case .move: return apply(.move(productIds: ["INT-1"], address: "Av. América 123", on: today))
        case .replace: return apply(.replace(productIds: ["INT-1"], address: "Av. América 123", technology: .fiber, on: today))
        case .withdraw: return apply(.withdraw(productIds: PSM.allProducts, on: today, details: ["reason": "Cierre de la sucursal"]))
        case .trackWorkOrder: return apply(.trackWorkOrder(workOrderId: PSM.workOrderId, productIds: ["INT-1"]))
        case .registerClaim: return apply(.registerClaim(month: YearMonth(2026, 10)!))
        case .resolveClaim: return apply(.resolveClaim(resolution: "Se anula el cargo duplicado"))
        case .trackCollection: return apply(.trackCollection)
        case .endCollection: return apply(.endCollection)
        case .proformaIssued:
            return .proformaIssued(
                ProformaIssued(
                    proformaId: "PF-CT-1-2026-11", contractId: PS.contractId, month: YearMonth(2026, 11)!,
                    lines: [ProformaLine(productId: "LIN-1", description: "Línea LIN-1", amount: .bolivianos(70))], total: .bolivianos(70),
                    dueBy: Day(2026, 12, 20)!))
        case .proformaPaid:
            return .proformaPaid(ProformaPaid(proformaId: PSM.octoberProforma.proformaId, contractId: PS.contractId, amount: .bolivianos(349), receipt: "REC-7"))
        case .workOrderEnded: return .workOrderEnded(workOrderId: PSM.workOrderId)
        case .suspensionStarts: return .suspensionStarts
        case .suspensionEnds: return .suspensionEnds
        }
    }

    /// What causes each input in the service (PostSaleService routes, FlowSteps): `primary`, and
    /// the other message that may (`alternate`; the same where there is one).
    static func trigger(_ given: Given, alternate: Bool) -> String {
        let started = alternate ? CompletePostSaleRequirements.type : RequestPostSale.type
        switch given {
        case .register: return RegisterContract.type
        case .screen: return RequestPostSale.type
        case .refresh: return alternate ? StateMachine.timer(PostSaleRequest.recheckTimer) : CompletePostSaleRequirements.type
        // A flow's first steps: on its request, or on the completion of its requirements.
        case .suspend, .reconnect, .changePlan, .setService, .registerClaim, .trackCollection: return started
        // A transfer's installation OT closed.
        case .move, .replace: return WorkOrderClosed.type
        case .withdraw: return RecordEquipment.type
        // A transfer found feasible; a support visit that needs the field.
        case .trackWorkOrder: return alternate ? RecordDiagnosis.type : RecordFeasibility.type
        case .resolveClaim: return RecordClaimResolution.type
        // A collection settled: by a payment, or found so by the weekly re-check.
        case .endCollection: return alternate ? StateMachine.timer(PostSaleRequest.recheckTimer) : ProformaPaid.type
        case .proformaIssued: return ProformaIssued.type
        case .proformaPaid: return ProformaPaid.type
        case .workOrderEnded: return alternate ? WorkOrderCancelled.type : WorkOrderClosed.type
        case .suspensionStarts: return StateMachine.timer(Contract.suspendTimer)
        case .suspensionEnds: return StateMachine.timer(Contract.reconnectTimer)
        }
    }

    static func representatives() throws -> [(name: String, state: Contract.State)] {
        let plain = try PS.contract()
        let ot = try PS.applied(plain, .trackWorkOrder(workOrderId: PSM.workOrderId, productIds: ["INT-1"]), requestId: PSM.id)
        let waiting = try PS.applied(ot, .withdraw(productIds: PSM.allProducts, on: today, details: [:]), requestId: "PV-2")
        var collecting = try PS.step(Contract.self, plain, .proformaIssued(PSM.octoberProforma))
        collecting = try PS.applied(collecting, .trackCollection, requestId: PSM.id)
        collecting = try PS.applied(collecting, .registerClaim(month: YearMonth(2026, 10)!), requestId: PSM.id)
        return [
            ("active", plain),
            ("active, a suspension running", try PS.applied(plain, .suspend(productIds: ["LIN-1"], from: Day(2026, 11, 1)!, to: Day(2027, 1, 31)!))),
            ("active, a suspension due to start",
             try PS.applied(plain, .suspend(productIds: ["LIN-1"], from: Day(2026, 11, 25)!, to: Day(2027, 1, 31)!), at: PS.midnight("2026-11-20"))),
            ("active, a suspension due to end",
             try PS.applied(plain, .suspend(productIds: ["LIN-1"], from: Day(2026, 9, 1)!, to: Day(2026, 11, 28)!), at: PS.midnight("2026-09-01"))),
            ("active, an OT open on internet", ot),
            ("active, a withdrawal waiting for its OT", waiting),
            ("active, October unpaid, collected, claimed", collecting),
            // Its last proforma unpaid, its debt collected, a claim open: all of it outlives the products.
            ("terminated, October unpaid, collected, claimed",
             try PS.applied(collecting, .withdraw(productIds: PSM.allProducts, on: today, details: [:]), requestId: "PV-2")),
        ]
    }

    static func tables() throws -> (reps: [(name: String, state: Contract.State)], tables: [(name: String, table: Table)]) {
        let reps = try representatives()
        let tables = [false, true].map { alternate in
            (alternate ? "alternate" : "primary",
             Table(service: PostSaleService.definition, states: reps.map(\.state), now: PSM.now) { (input($0), trigger($0, alternate: alternate)) })
        }
        return (reps, tables)
    }

    static func name(_ state: Contract.State?, _ reps: [(name: String, state: Contract.State)]) -> String {
        guard let state else { return "∅" }
        return reps.first { $0.state == state }?.name ?? state.status
    }

    @Test func theRepresentativesAreWhatTheirNamesSay() throws {
        let reps = try Self.representatives()
        #expect(reps.map(\.state.status) == ["active", "active", "active", "active", "active", "active", "active", "terminated"])
        let byName = Dictionary(uniqueKeysWithValues: reps.map { ($0.name, $0.state) })
        #expect(byName["active, a suspension running"]?.openSuspension != nil)
        #expect(byName["active, a suspension due to start"]?.suspensions.first?.started == false)
        #expect(byName["active, a withdrawal waiting for its OT"]?.pendingWithdrawals.count == 1)
        #expect(byName["active, October unpaid, collected, claimed"]?.collections == [PSM.id])
        for t in try Self.tables().tables {
            for (c, input) in t.table.inputs where Self.column(of: input) != c { Issue.record("the input of \(c) is that of \(Self.column(of: input))") }
        }
    }

    /// A terminated contract still learns billing's last proforma (the withdrawal's proration) and
    /// its payment, and answers collections and billing claims: the runtime accepts every decision.
    @Test func theRuntimeAcceptsEveryDecision() throws {
        let (reps, tables) = try Self.tables()
        var refusals: [String] = []
        for (name, table) in tables {
            refusals += table.refusals.map { "\(Self.name($0.cell.state, reps)) × \($0.cell.column) on \($0.cell.trigger) (\(name)): \($0.rejection.message)" }
        }
        for r in refusals { Issue.record("the runtime refuses \(r)") }
    }

    @Test func everyDeclaredTransitionIsTaken() throws {
        let taken = try Self.tables().tables.reduce(Set<StateMachine.Transition>()) { $0.union($1.table.taken) }
        let missing = Contract.machine.transitions.filter { !taken.contains($0) }
        #expect(missing.isEmpty, "never taken: \(missing.map(PSM.describe))")
    }

    @Test func onlyOwnedEventsAreEmitted() throws {
        let emitted = try Self.tables().tables.reduce(Set<String>()) { $0.union($1.table.emitted) }
        let events = try #require(PlatformCatalog.participant("postsale")).events
        #expect(emitted.subtracting(events).isEmpty, "not owned: \(emitted.subtracting(events).sorted())")
        #expect(emitted == [ContractRegistered.type, ContractProductChanged.type, ServiceSuspended.type, ServiceReconnected.type])
    }

    /// Nothing moves a terminated contract out of it, and nothing but its registration creates one.
    @Test func aTerminatedContractStaysTerminatedAndOnlyARegistrationCreatesOne() throws {
        let (reps, tables) = try Self.tables()
        for (name, table) in tables {
            for cell in table.cells {
                guard case .transition(let to, _, _, _) = cell.effect else { continue }
                if cell.status == "terminated", to != "terminated" { Issue.record("\(Self.name(cell.state, reps)) × \(cell.column) (\(name)) moves to \(to)") }
                if cell.state == nil, cell.column != .register { Issue.record("∅ × \(cell.column) (\(name)) creates a contract") }
            }
            // A request changing a contract that does not exist is a fault, not a fact to ignore.
            for cell in table.cells where cell.state == nil {
                if case .apply = table.inputs.first(where: { $0.column == cell.column })!.input { #expect(cell.effect == .rejected(.internalError), "\(cell)") }
            }
        }
    }
}

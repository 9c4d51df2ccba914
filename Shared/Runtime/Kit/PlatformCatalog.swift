import Contracts

/// Who may publish what on the platform's exchanges: every service with the events it owns and
/// the commands it sends, and every external sender (CRM, cashier, operations center, otctl)
/// with the commands it may send. The one list behind the broker's topic permissions
/// (`deploy/rabbitmq/permissions.tsv`) and the consumers' provenance check.
///
/// What each service *consumes* is declared by its routes, not here.
public enum PlatformCatalog {
    /// A broker user of the platform.
    public struct Participant: Sendable {
        public enum Role: String, Sendable { case service, external }
        public var name: String
        public var role: Role
        /// Event types it owns (publishes on `ot.events`).
        public var events: [String]
        /// Command types it may send (publishes on `ot.commands`).
        public var commands: [String]
        /// Queue-name prefixes it may declare and read besides `<name>.` (e.g. the operations
        /// center's `operations.`).
        public var queuePrefixes: [String]
        /// Re-injects dead letters on behalf of their original publisher (header `x-origin-user`).
        public var replaysDeadLetters: Bool
        /// What it is, for the generated permissions file.
        public var summary: String
    }

    /// `command.rejected`: every service may publish it.
    static let shared: [String] = [CommandRejected.type]

    public static let services: [Participant] = [
        .init(
            name: "commercial", role: .service,
            events: [
                WorkOrderOpened.type, WorkOrderScopeChanged.type, ChargeRequested.type, CorrectiveActionRecorded.type,
                PoleMoveMonthlyReport.type,
            ] + shared,
            commands: [], queuePrefixes: [], replaysDeadLetters: false,
            summary: "OT opening, scope changes, pole-move requests and their follow-up"),
        .init(
            name: "approval", role: .service,
            events: [
                WorkOrderApprovalPending.type, WorkOrderApproved.type, WorkOrderRejected.type, PrefacturaApproved.type,
                PrefacturaReturned.type, SurveyRequested.type, SurveyAnswered.type,
            ] + shared,
            commands: [], queuePrefixes: [], replaysDeadLetters: false,
            summary: "quality gate, prefactura review, satisfaction survey"),
        .init(
            name: "dispatch", role: .service,
            events: [
                WorkOrderDispatched.type, WorkOrderAssigned.type, WorkOrderAttended.type, WorkOrderCancelled.type,
                WorkOrderClosed.type, WorkOrderSLABreached.type, WorkOrderReportDelivered.type, TravelBudgetRequested.type,
            ] + shared,
            commands: [], queuePrefixes: ["operations."], replaysDeadLetters: false,
            summary: "operations: dispatch, assignment, outcome, closing, SLA timers"),
        .init(
            name: "billing", role: .service,
            events: [
                ChargeCreated.type, ChargePaid.type, PrefacturaIssued.type, InvoiceIssued.type, ProrationComputed.type,
                ProformaIssued.type, ProformaPaid.type, BillingCycleCompleted.type,
            ] + shared,
            commands: [], queuePrefixes: [], replaysDeadLetters: false,
            summary: "CxC, prefacturas, invoices, recurring billing"),
        .init(
            name: "postsale", role: .service,
            events: [
                PostSaleRequestReceived.type, PostSaleRequestCompleted.type, PostSaleRequestRejected.type,
                PostSaleRequirementsMissing.type, PostSaleQualityCheckRequested.type, ServiceSuspended.type, ServiceReconnected.type,
                ContractRegistered.type, ContractProductChanged.type, RecurringChargeAdded.type, ChargeRequested.type,
            ] + shared,
            commands: [OpenWorkOrder.type, ReportDamage.type], queuePrefixes: [], replaysDeadLetters: false,
            summary: "enterprise contracts and the post-sale flows A–L"),
        .init(
            name: "priority", role: .service,
            events: [
                WorkOrderPrioritized.type, WorkOrderEscalated.type, DamageRegistered.type, DamageReiterated.type,
                DamageQualityCheckDue.type, DamageSolved.type, DamageHighVulnerability.type,
            ] + shared,
            commands: [OpenWorkOrder.type], queuePrefixes: [], replaysDeadLetters: false,
            summary: "repeated damage and the priority matrix"),
        .init(
            name: "records", role: .service,
            events: [
                FileRegistered.type, FileReturned.type, FileArchived.type, FileTransferred.type, RetrievalRequested.type,
                RetrievalDelivered.type, RetrievalFailed.type,
            ] + shared,
            commands: [], queuePrefixes: [], replaysDeadLetters: false,
            summary: "sale and post-sale document management"),
        .init(
            name: "console", role: .service, events: shared,
            commands: MessageRegistry.all.filter { $0.kind == .command }.map { $0.type }, queuePrefixes: [],
            replaysDeadLetters: true,
            summary: "the operations console: read model of every event, commands sent over HTTP, dead-letter replay by admins"),
    ]

    public static let external: [Participant] = [
        .init(
            name: "crm", role: .external, events: [],
            commands: [
                OpenWorkOrder.type, AttachDocument.type, ApproveWorkOrder.type, RejectWorkOrder.type, ChangeScope.type,
                RequestPoleMove.type, ReviewPrefactura.type, RecordSurveyAnswer.type, RequestPostSale.type, ReportDamage.type,
                RecordCorrectiveAction.type, RecordReviewerAbsence.type, PricePrefactura.type, CorrectPrefactura.type,
                RegisterContract.type, CompletePostSaleRequirements.type, AbandonPostSale.type, RecordFeasibility.type,
                RecordRetention.type, RecordPenaltyDecision.type, RecordEquipment.type, RecordDiagnosis.type,
                RecordPostSaleQualityCheck.type, RecordClientDecision.type, RecordClaimResolution.type, RunBillingCycle.type,
                RecordDamageQualityCheck.type, RecordEscalationResult.type, RegisterFile.type, ResubmitFile.type,
                RequestRetrieval.type, DeliverRetrieval.type,
            ],
            queuePrefixes: [], replaysDeadLetters: false,
            summary: "CRMs and front offices: account managers, quality control, customer service, call center, help desk, retention"),
        .init(
            name: "cashier", role: .external, events: [], commands: [RecordPayment.type, RecordProformaPayment.type], queuePrefixes: [],
            replaysDeadLetters: false, summary: "the cashier: payments of CxC"),
        .init(
            name: "operations", role: .external, events: [],
            commands: [
                AssignWorkOrder.type, ReportOutcome.type, CloseWorkOrder.type, CancelWorkOrder.type, DeliverReport.type,
                RecordDamageQualityCheck.type, RecordEscalationResult.type,
            ],
            queuePrefixes: ["operations."], replaysDeadLetters: false,
            summary: "the operations center and line heads: assignment, field outcome, closing, cancelling, report delivery, "
                + "quality control of repairs and the escalation ladder"),
        .init(
            name: "otctl", role: .external, events: [], commands: MessageRegistry.all.filter { $0.kind == .command }.map { $0.type },
            queuePrefixes: [], replaysDeadLetters: true,
            summary: "the operators' tool: any command, dead-letter replay"),
    ]

    public static var all: [Participant] { services + external }

    public static func participant(_ name: String) -> Participant? { all.first { $0.name == name } }

    /// The users that may publish an event type.
    public static func owners(ofEvent type: String) -> [String] {
        services.filter { $0.events.contains(type) }.map(\.name)
    }

    /// The users that may send a command type.
    public static func senders(ofCommand type: String) -> [String] {
        all.filter { $0.commands.contains(type) }.map(\.name)
    }
}

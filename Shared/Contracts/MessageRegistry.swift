import Foundation

/// What a consumer needs to know about one message type without knowing it statically.
public struct MessageDescriptor: Sendable {
    /// CloudEvents `type` and routing key.
    public let type: String
    /// Command or event.
    public let kind: MessageKind
    /// `ot.commands` or `ot.events`.
    public let exchange: String
    /// Version of the `data` shape this build writes and reads.
    public let dataVersion: Int
    /// JSON Schema of `data`.
    public let schema: JSONSchema
    /// The Swift type.
    public let messageType: any Message.Type
    /// Decodes and validates a whole envelope of this type and returns its `data`.
    public let decode: @Sendable (Data) throws(ContractError) -> any Message
    /// Decodes and validates a whole envelope of this type, returning attributes and `data`.
    public let decodeEnvelope: @Sendable (Data) throws(ContractError) -> DecodedMessage

    /// The descriptor of `P`.
    public init<P: Message>(_: P.Type) {
        type = P.type
        kind = P.kind
        exchange = P.kind.exchange
        dataVersion = P.dataVersion
        schema = P.schema
        messageType = P.self
        decode = { (data: Data) throws(ContractError) -> any Message in
            try Wire.decode(P.self, from: data).data
        }
        decodeEnvelope = { (data: Data) throws(ContractError) -> DecodedMessage in
            let envelope = try Wire.decode(P.self, from: data)
            return DecodedMessage(header: envelope.header, message: envelope.data)
        }
    }
}

/// An envelope decoded without knowing its type statically.
public struct DecodedMessage: Sendable {
    /// The CloudEvents attributes.
    public let header: EnvelopeHeader
    /// The `data`, as its concrete type.
    public let message: any Message

    /// Creates a decoded message.
    public init(header: EnvelopeHeader, message: any Message) {
        self.header = header
        self.message = message
    }
}

/// Every message type of the contract, and lookup by CloudEvents `type`.
public enum MessageRegistry {
    /// Every command and event, commands first.
    public static let all: [any Message.Type] = [
        // Commands (ot.commands)
        OpenWorkOrder.self,
        AttachDocument.self,
        ApproveWorkOrder.self,
        RejectWorkOrder.self,
        AssignWorkOrder.self,
        ReportOutcome.self,
        CancelWorkOrder.self,
        CloseWorkOrder.self,
        DeliverReport.self,
        RecordCorrectiveAction.self,
        RecordReviewerAbsence.self,
        PricePrefactura.self,
        CorrectPrefactura.self,
        ChangeScope.self,
        RequestPoleMove.self,
        RecordPayment.self,
        ReviewPrefactura.self,
        RecordSurveyAnswer.self,
        RequestPostSale.self,
        ReportDamage.self,
        RegisterContract.self,
        CompletePostSaleRequirements.self,
        AbandonPostSale.self,
        RecordFeasibility.self,
        RecordRetention.self,
        RecordPenaltyDecision.self,
        RecordEquipment.self,
        RecordDiagnosis.self,
        RecordPostSaleQualityCheck.self,
        RecordClientDecision.self,
        RecordClaimResolution.self,
        RunBillingCycle.self,
        RecordProformaPayment.self,
        RecordDamageQualityCheck.self,
        RecordEscalationResult.self,
        RegisterFile.self,
        ResubmitFile.self,
        RequestRetrieval.self,
        DeliverRetrieval.self,
        // Events (ot.events)
        WorkOrderOpened.self,
        WorkOrderApprovalPending.self,
        WorkOrderApproved.self,
        WorkOrderRejected.self,
        WorkOrderDispatched.self,
        WorkOrderAssigned.self,
        WorkOrderAttended.self,
        WorkOrderCancelled.self,
        WorkOrderClosed.self,
        WorkOrderSLABreached.self,
        WorkOrderReportDelivered.self,
        TravelBudgetRequested.self,
        CorrectiveActionRecorded.self,
        PoleMoveMonthlyReport.self,
        WorkOrderPrioritized.self,
        WorkOrderEscalated.self,
        WorkOrderScopeChanged.self,
        ChargeRequested.self,
        PrefacturaApproved.self,
        PrefacturaReturned.self,
        SurveyRequested.self,
        SurveyAnswered.self,
        ChargeCreated.self,
        ChargePaid.self,
        PrefacturaIssued.self,
        InvoiceIssued.self,
        ProrationComputed.self,
        PostSaleRequestReceived.self,
        PostSaleRequestCompleted.self,
        PostSaleRequestRejected.self,
        PostSaleRequirementsMissing.self,
        PostSaleQualityCheckRequested.self,
        ServiceSuspended.self,
        ServiceReconnected.self,
        ContractRegistered.self,
        ContractProductChanged.self,
        RecurringChargeAdded.self,
        ProformaIssued.self,
        ProformaPaid.self,
        BillingCycleCompleted.self,
        DamageRegistered.self,
        DamageReiterated.self,
        DamageQualityCheckDue.self,
        DamageSolved.self,
        DamageHighVulnerability.self,
        FileRegistered.self,
        FileReturned.self,
        FileArchived.self,
        FileTransferred.self,
        RetrievalRequested.self,
        RetrievalDelivered.self,
        RetrievalFailed.self,
        CommandRejected.self,
    ]

    /// Descriptors keyed by type; built once.
    private static let descriptors: [String: MessageDescriptor] = {
        var table: [String: MessageDescriptor] = [:]
        for messageType in all {
            let descriptor = MessageDescriptor(messageType)
            precondition(table[descriptor.type] == nil, "two message types claim \(descriptor.type)")
            table[descriptor.type] = descriptor
        }
        return table
    }()

    /// Every descriptor, sorted by type.
    public static var allDescriptors: [MessageDescriptor] {
        descriptors.values.sorted { $0.type < $1.type }
    }

    /// The descriptor of a CloudEvents `type`, or `nil` if the contract has no such message.
    public static func descriptor(for type: String) -> MessageDescriptor? {
        descriptors[type]
    }

    /// Decodes any envelope of the contract: reads the attributes, looks the type up, decodes
    /// the payload. An unknown type throws ``ContractError/Code/unknownType``; a string
    /// containing U+0000, anywhere, ``ContractError/Code/invalidValue`` (before anything else).
    public static func decode(_ data: Data) throws(ContractError) -> DecodedMessage {
        try NULCheck.refuse(in: data, attributesOnly: false)
        let header = try Wire.decodeHeader(data)
        guard let descriptor = descriptors[header.type] else {
            throw ContractError(.unknownType, field: "type", message: "unknown message type \"\(header.type)\"")
        }
        return try descriptor.decodeEnvelope(data)
    }
}

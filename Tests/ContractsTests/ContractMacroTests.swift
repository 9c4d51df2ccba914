@testable import Contracts
import Foundation
import Testing

/// A shape declared only to exercise what `@Contract` derives.
@Contract("a test shape")
struct Sample: Codable, Equatable {
    /// Work-order id.
    @Field(.identifier) var id: String
    /// NIT / RUT / CI.
    var taxId: String
    /// ISO 4217 currency, of the `Money` kind.
    ///
    /// A second paragraph is documentation only.
    var currency: Currency
    /// A summary that goes on
    /// over two lines.
    @Field(min: 1, max: 4) var level: Int
    /// The customer.
    @Field(.typeDescription) var customer: Customer?
    /// Amount to bill.
    var amount: Money?
    /// Spelled out.
    var tags: Optional<[String]>
    /// Free-form.
    var details: JSONObject
    /// Has a default…
    var attempts: Int = 3
    /// Not a field: computed.
    var isUrgent: Bool { level == 1 }
    /// Not a field: static.
    static let unrelated = 1
}

@Suite("@Contract derives the initializer and the schema from the fields")
struct ContractMacroTests {
    @Test func theInitializerTakesTheFieldsInOrderWithOptionalsDefaultingToNil() {
        let sample = Sample(id: "S-1", taxId: "1023456025", currency: .bob, level: 2, details: [:])
        #expect(sample.customer == nil && sample.amount == nil && sample.tags == nil)
        #expect(sample.attempts == 3)
        let full = Sample(
            id: "S-1", taxId: "1023456025", currency: .bob, level: 2, customer: .example, amount: .bolivianos(1),
            tags: ["a"], details: ["k": 1], attempts: 4)
        #expect(full.customer == .example && full.tags == ["a"] && full.attempts == 4)
    }

    @Test func theSchemaTakesEachDescriptionFromTheFirstParagraphOfTheDocComment() {
        let expected = JSONSchema.object(
            [
                "id": .required(.identifier("work-order id")),
                "taxId": .required(.string("NIT / RUT / CI")),
                "currency": .required(.enumeration(Currency.self, "ISO 4217 currency, of the Money kind")),
                "level": .required(.integer(min: 1, max: 4, "a summary that goes on over two lines")),
                "customer": .optional(Customer.schema),
                "amount": .optional(Money.schema.described("amount to bill")),
                "tags": .optional(.array(of: .string(), "spelled out")),
                "details": .required(.freeformObject(description: "free-form")),
                "attempts": .required(.integer("has a default…")),
            ], description: "a test shape")
        #expect(Sample.schema == expected)
        #expect(Sample.schema.rendered() == expected.rendered())
    }

    @Test func aContractShapeCanBeTheTypeOfAnotherField() {
        #expect(JSONSchema.field([Sample].self, description: "samples") == .array(of: Sample.schema, "samples"))
    }

    @Test func fieldRefinementsApplyToTheTypesSchema() {
        #expect(JSONSchema.field(String.self, .identifier, description: nil) == .identifier())
        #expect(JSONSchema.field(Int64.self, min: 0, description: "n") == .integer(min: 0, "n"))
        #expect(JSONSchema.field(Money.self, .typeDescription, description: "ignored") == Money.schema)
        #expect(JSONSchema.field(Date.self, description: "when") == .dateTime("when"))
        #expect(JSONSchema.field(Bool.self, description: nil) == .boolean())
        #expect(JSONSchema.field(ServiceLine.self, .typeDescription, description: "x") == ServiceLine.schema)
        #expect(JSONSchema.field(Outcome.self, description: nil) == .enumeration(Outcome.self))
    }

    @Test func theMessagesKeepTheirInitializerLabelsAndDefaults() {
        // Compiles only while the derived initializers keep the hand-written ones' labels, order
        // and defaults.
        _ = OpenWorkOrder(kind: .repair, customer: .example, documents: [], description: "x")
        _ = RecordSurveyAnswer(surveyId: "SV-1", score: 5, by: "angie.cruz")
        _ = WorkOrderOpened(workOrderId: "w", number: "n", kind: .visit, customer: .example, documents: [])
        _ = PostSaleRequestRejected(requestId: "r", flow: .suspension, code: "retained")
        _ = Document(kind: .offer, uri: "u")
        _ = CommandRejected(commandId: "c", commandType: "t", code: "x", message: "m", errors: [])
        #expect(ReportDamage(customer: .example, product: .example, channel: .helpDesk, fault: "f").address == nil)
    }
}

import Foundation

// Commands about prefacturas (SGC-PC-07 §4.6), published on `ot.commands`. Added to the contract
// after CONTRACT.md v1.

/// `billing.price-prefactura`: the process and quality controller prices a prefactura that was
/// drafted at 0 because the closed OT carried no amount (`needsPricing`); billing re-issues it
/// with these lines as a new version, which the commercial review then decides. Until then it
/// cannot be approved.
@Contract("price a prefactura drafted without a price")
public struct PricePrefactura: Command {
    public static let type = "billing.price-prefactura"

    /// The prefactura to price.
    ///
    /// The latest version, waiting for review with `needsPricing`.
    @Field(.identifier) public var prefacturaId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// The priced lines.
    ///
    /// One currency, the OT's; each `amount` is `quantity × unitPrice`; the total is positive.
    public var lines: [PrefacturaLine]
    /// Who priced it.
    @Field(.identifier) public var by: String

    public var correlationKey: String? { workOrderId }

    public static let example = PricePrefactura(
        prefacturaId: "PF-2026-000731", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", lines: PrefacturaIssued.example.lines,
        by: "angie.cruz")
}

/// `billing.correct-prefactura`: the corrections the commercial review asked for when it returned
/// a prefactura (`billing.prefactura-returned`): billing re-issues it with these lines as a new
/// version for review.
@Contract("correct a returned prefactura")
public struct CorrectPrefactura: Command {
    public static let type = "billing.correct-prefactura"

    /// The returned prefactura.
    @Field(.identifier) public var prefacturaId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// The corrected lines.
    ///
    /// One currency, the OT's; each `amount` is `quantity × unitPrice`; the total is positive.
    public var lines: [PrefacturaLine]
    /// Who corrected it.
    @Field(.identifier) public var by: String
    /// What was corrected.
    public var notes: String?

    public var correlationKey: String? { workOrderId }

    public static let example = CorrectPrefactura(
        prefacturaId: "PF-2026-000731", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33",
        lines: [
            PrefacturaLine(
                description: "Verificación de puesta a tierra por unidad educativa", quantity: 12,
                unitPrice: Money(minor: 337_500, currency: .bob), amount: Money(minor: 4_050_000, currency: .bob)),
            PrefacturaLine(
                description: "Informe técnico consolidado", quantity: 1,
                unitPrice: Money(minor: 650_000, currency: .bob), amount: Money(minor: 650_000, currency: .bob)),
        ],
        by: "angie.cruz", notes: "Precio unitario según la oferta (descuento del 3,6 %)")
}

import Contracts
import Foundation
import Runtime

/// The customers the platform knows (issue 7, rule 8): every customer an OT was opened for, by
/// country and tax id (NIT / RUT / CI), the generic COMTECO number of pole moves aside.
/// OPE-SUM-GES-P08 step 1 sends existing customers to the generic procedure; a pole-move
/// request's `isExistingCustomer` is checked against what the platform knows instead of trusted.
///
/// Each opened OT registers the alias ``alias(country:taxId:)`` (the first OT of a customer keeps
/// it), so a request is screened by the decision of that OT — no row shared by all the OTs of one
/// customer, so no lock contention between them. Post-sale's contract registry adds its
/// customers here once it exists.
public enum KnownCustomers {
    /// The alias of a customer: `customer:<country>:<tax id, letters and digits only, upper case>`
    /// (spaces, dots and dashes do not tell two ids apart).
    public static func alias(country: Country, taxId: String) -> String {
        "customer:\(country.rawValue):"
            + String(taxId.uppercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }

    /// Pole moves are COMTECO's, in Bolivia.
    public static func alias(requester: Payer) -> String { alias(country: .bo, taxId: requester.idNumber) }

    /// Whether an OT for `customer` makes it known (the generic pole-move number does not).
    public static func counts(_ customer: Customer) -> Bool { customer.id != PoleMoveRules.genericCustomerId }

    /// Step 1, checked: the request goes on to its ``PoleMoveRequest`` unless the platform knows
    /// the requester (`known`: the first OT opened for the same CI), whatever the flag says.
    public static func screen(
        _ request: RequestPoleMove, requestId: String, known: CommercialWorkOrder.State?
    ) throws(Rejection) -> [Target] {
        try PoleMoveRules.validate(request)
        if let known {
            throw Rejection(
                .useGenericProcedure,
                "the requester \(request.requester.idNumber) is customer \(known.customer.id) (\(known.customer.name), OT \(known.number)): "
                    + "use the generic procedure",
                errors: [FieldProblem(field: "data.isExistingCustomer", problem: "contradicted: the requester is customer \(known.customer.id)")])
        }
        return [.to(PoleMoveRequest.self, requestId, .request(request))]
    }
}

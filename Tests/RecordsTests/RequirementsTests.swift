import Contracts
import Foundation
import Records
import Testing

@Suite("records requirements")
struct RequirementsTests {
    func docs(_ kinds: DocumentKind...) -> [Document] { kinds.map { Document(kind: $0, uri: "s3://x/\($0.rawValue).pdf") } }

    @Test func theDefaultsOfEachCaseKind() {
        let r = Requirements.defaults
        #expect(r.missing(.sale, service: "internet", documents: docs(.contract)).isEmpty)
        #expect(r.missing(.sale, service: "internet", documents: docs(.offer)) == ["contract"])
        #expect(r.missing(.postsale, service: "suspension", documents: docs(.requestLetter)).isEmpty)
        #expect(r.missing(.workOrder, service: "project", documents: docs(.offer, .workOrder, .signedQuote)).isEmpty)
        #expect(r.missing(.workOrder, service: "project", documents: docs(.workOrder)) == ["offer", "purchaseOrder"])
    }

    @Test func anEmptyDocumentListIsNeverComplete() throws {
        let r = try Requirements.parse(#"{"sale": {"tv": []}}"#)
        #expect(r.missing(.sale, service: "tv", documents: []) == ["document"])
        #expect(r.missing(.sale, service: "tv", documents: docs(.other)).isEmpty)
    }

    @Test func aServiceEntryReplacesItsCaseKindsDefaultAndUnknownKindsAreRefused() throws {
        let r = try Requirements.parse(#"{"sale": {"internet": ["contract", "technicalAnnex"]}}"#)
        #expect(r.missing(.sale, service: "internet", documents: docs(.contract)) == ["technicalAnnex"])
        #expect(r.missing(.sale, service: "tv", documents: docs(.contract)).isEmpty, "other services keep the default")
        #expect(throws: Requirements.RequirementsError.self) { try Requirements.parse(#"{"sale": {"x": ["passport"]}}"#) }
        #expect(throws: Requirements.RequirementsError.self) { try Requirements.parse(#"{"lease": {"*": ["contract"]}}"#) }
    }
}

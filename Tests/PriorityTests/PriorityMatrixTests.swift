import Contracts
import Foundation
import Priority
import Testing

@Suite("priority matrix")
struct PriorityMatrixTests {
    @Test func anOTThatMatchesNoRowIsLevelFour() {
        let r = PriorityMatrix.evaluate(PriorityFacts(kind: .project, segment: .residential), age: 0)
        #expect(r.level == 4 && r.row == .noRow)
    }
}

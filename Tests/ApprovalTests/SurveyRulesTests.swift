import Approval
import Contracts
import Foundation
import Runtime
import Testing

@Suite struct SurveyRulesTests {
    @Test func aScoreOutsideOneToFiveOrNoRecorderIsRejected() {
        for score in [0, 6, -1] {
            #expect(throws: Rejection.self) { try SurveyRules.validate(RecordSurveyAnswer(surveyId: "S", score: score, by: "a")) }
        }
        #expect(throws: Rejection.self) { try SurveyRules.validate(RecordSurveyAnswer(surveyId: "S", score: 3, by: " ")) }
        #expect(throws: Never.self) { try SurveyRules.validate(RecordSurveyAnswer(surveyId: "S", score: 3, by: "a")) }
    }

    @Test func aSurveyIsAnsweredOnceAndMustExist() {
        #expect(throws: Never.self) { try SurveyRules.check(surveyId: "S", answeredAt: .some(nil)) }
        do {
            try SurveyRules.check(surveyId: "S", answeredAt: .some(Date()))
            Issue.record("a second answer must be refused")
        } catch { #expect(error.code == .alreadyDone) }
        do {
            try SurveyRules.check(surveyId: "S", answeredAt: nil)
            Issue.record("an unknown survey must be refused")
        } catch { #expect(error.code == .notFound) }
    }

    @Test func theSummaryCountsRequestsAnswersAndTheMeanScore() {
        let s = SurveySummary(scores: [5, nil, 4, 3, nil])
        #expect(s.requested == 5 && s.answered == 3)
        #expect(s.averageScore == 4)
        #expect(s.byScore == [5: 1, 4: 1, 3: 1])
        #expect(SurveySummary(scores: [nil]).averageScore == nil)
    }
}

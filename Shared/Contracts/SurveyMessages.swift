import Foundation

/// `survey.record-answer`: the customer's answer to a satisfaction survey (SGC-PC-07 §4.8), as
/// recorded by the process and quality controller. Added to the contract after CONTRACT.md v1.
@Contract("record the answer to a satisfaction survey")
public struct RecordSurveyAnswer: Command {
    public static let type = "survey.record-answer"

    /// The survey.
    ///
    /// Its id, from `survey.requested`.
    @Field(.identifier) public var surveyId: String
    /// Satisfaction, 1 to 5.
    ///
    /// 1 is very unsatisfied, 5 very satisfied.
    @Field(min: 1, max: 5) public var score: Int
    /// The customer's comments.
    ///
    /// Free text from the customer.
    public var comments: String?
    /// Who recorded the answer.
    @Field(.identifier) public var by: String

    public static let example = RecordSurveyAnswer(
        surveyId: "SV-2026-000412", score: 4, comments: "Buena atención, el informe llegó a tiempo", by: "angie.cruz")
}

/// `survey.answered`: a satisfaction survey was answered.
@Contract("a satisfaction survey was answered")
public struct SurveyAnswered: Event {
    public static let type = "survey.answered"

    /// The survey.
    @Field(.identifier) public var surveyId: String
    /// Work-order id.
    @Field(.identifier) public var workOrderId: String
    /// Satisfaction, 1 to 5.
    @Field(min: 1, max: 5) public var score: Int
    /// The customer's comments.
    ///
    /// Free text from the customer.
    public var comments: String?

    public var correlationKey: String? { workOrderId }

    public static let example = SurveyAnswered(
        surveyId: "SV-2026-000412", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", score: 4,
        comments: "Buena atención, el informe llegó a tiempo")
}

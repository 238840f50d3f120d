package protocol

// WidgetMethods are the methods a widget may call, by their exact names.
// Metrics label requests only with these (anything else is "other"), so a
// client cannot grow the label set by inventing names.
var WidgetMethods = []string{
	MethodHello,
	MethodCreateRecord, MethodRetrieveRecord, MethodUpdateRecord, MethodDeleteRecord,
	MethodSearch, MethodSearchAndOpenRecords, MethodGetEnvironment, MethodOpenForm,
	MethodRefreshForm, MethodGetEntityMetadata, MethodSetClickToAct, MethodGetClickToAct,
	MethodSetMode, MethodGetMode, MethodSetWidth, MethodGetWidth, MethodRenderSearchPage,
	MethodEnreachExecuteQuery, MethodEnreachSetANumber,
	MethodXrmCreateRecord, MethodXrmUpdateRecord, MethodXrmRetrieveRecord, MethodXrmExecute,
}

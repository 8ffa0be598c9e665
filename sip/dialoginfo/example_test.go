package dialoginfo_test

import (
	"fmt"

	"github.com/switchboardhq/switchboard/sip/dialoginfo"
)

func ExampleDocument_Render() {
	doc := dialoginfo.Document{
		Version: 1,
		State:   dialoginfo.StateFull,
		Entity:  "sip:201@example.com",
		Dialogs: []dialoginfo.Dialog{{
			ID:        "a1",
			Direction: dialoginfo.DirectionRecipient,
			State:     dialoginfo.DialogEarly,
			Remote:    dialoginfo.Participant{Identity: "sip:202@example.com", Display: "Bob"},
		}},
	}
	fmt.Println(string(doc.Render()))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:201@example.com"><dialog id="a1" direction="recipient"><state>early</state><remote><identity display="Bob">sip:202@example.com</identity></remote></dialog></dialog-info>
}

func ExampleParse() {
	doc, err := dialoginfo.Parse([]byte(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="7" state="full" entity="sip:202@pbx">` +
		`<dialog id="202" direction="initiator"><state>confirmed</state>` +
		`<local><target uri="sip:202@pbx"><param pname="+sip.rendering" pvalue="no"/></target></local></dialog></dialog-info>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	d := doc.Dialogs[0]
	fmt.Println(doc.Version, d.State, d.Local.Held)
	// Output: 7 confirmed true
}

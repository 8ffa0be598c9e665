package pidf_test

import (
	"fmt"

	"github.com/switchboardhq/switchboard/sip/pidf"
)

func ExampleDocument_Render() {
	doc := pidf.Document{
		Entity:     "sip:201@example.com",
		Tuples:     []pidf.Tuple{{ID: "t1", Basic: pidf.Open}},
		Activities: []string{pidf.ActivityBusy},
		Note:       "Do Not Disturb",
	}
	fmt.Println(string(doc.Render()))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:201@example.com"><tuple id="t1"><status><basic>open</basic></status></tuple><note>Do Not Disturb</note><dm:person id="p1"><rpid:activities><rpid:busy/></rpid:activities><dm:note>Do Not Disturb</dm:note></dm:person></presence>
}

func ExampleParse() {
	doc, err := pidf.Parse([]byte(`<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@example.net">` +
		`<tuple id="t1"><status><basic>open</basic></status></tuple>` +
		`<dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities><dm:note>Back soon</dm:note></dm:person></presence>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.Tuples[0].Basic, doc.Activities, doc.Note)
	// Output: open [away] Back soon
}

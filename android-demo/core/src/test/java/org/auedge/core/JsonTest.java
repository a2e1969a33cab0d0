package org.auedge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void parsesValues() {
        Map<String, Object> m = Json.asObject(Json.parse(
                " {\"a\": [1, -2.5e2, true, false, null], \"s\": \"x\\\"\\u00e9\\n\", \"o\": {}} "), "doc");
        List<Object> a = Json.asArray(m.get("a"), "a");
        assertEquals(1.0, (Double) a.get(0), 0);
        assertEquals(-250.0, (Double) a.get(1), 0);
        assertEquals(Boolean.TRUE, a.get(2));
        assertEquals(Boolean.FALSE, a.get(3));
        assertNull(a.get(4));
        assertEquals("x\"\u00e9\n", m.get("s"));
        assertEquals(0, Json.asObject(m.get("o"), "o").size());
    }

    @Test
    public void refusesInvalidJson() {
        String[] bad = {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"abc", "tru", "[1] 2", "{\"a\":1,}", "\"\t\""};
        for (String text : bad) {
            try {
                Json.parse(text);
                fail("accepted " + text);
            } catch (IllegalArgumentException expected) {
                // the message names the offset
            }
        }
    }
}

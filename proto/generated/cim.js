/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError, $TypeError = $util.global.TypeError, $String = $util.global.String, $Number = $util.global.Number, $parseInt = $util.global.parseInt, $Array = $util.global.Array, $BigInt = $util.global.BigInt;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const cim = $root.cim = (() => {

    /**
     * Namespace cim.
     * @exports cim
     * @namespace
     */
    const cim = {};

    /**
     * BaseCommand enum.
     * @name cim.BaseCommand
     * @enum {number}
     * @property {number} LOGIN_REQUEST=0 LOGIN_REQUEST value
     * @property {number} MESSAGE=1 MESSAGE value
     * @property {number} PING=2 PING value
     * @property {number} OFFLINE=3 OFFLINE value
     * @property {number} LOGIN_REPLY=10 LOGIN_REPLY value
     * @property {number} ACK=11 ACK value
     * @property {number} KICK=12 KICK value
     */
    cim.BaseCommand = (function() {
        const valuesById = $Object.create(null), values = $Object.create(valuesById);
        values[valuesById[0] = "LOGIN_REQUEST"] = 0;
        values[valuesById[1] = "MESSAGE"] = 1;
        values[valuesById[2] = "PING"] = 2;
        values[valuesById[3] = "OFFLINE"] = 3;
        values[valuesById[10] = "LOGIN_REPLY"] = 10;
        values[valuesById[11] = "ACK"] = 11;
        values[valuesById[12] = "KICK"] = 12;
        return values;
    })();

    cim.Request = (function() {

        /**
         * Properties of a Request.
         * @typedef {Object} cim.Request.$Properties
         * @property {string|null} [reqMsg] Request reqMsg
         * @property {number|null} [requestId] Request requestId
         * @property {cim.BaseCommand|null} [cmd] Request cmd
         * @property {Object.<string,string>|null} [properties] Request properties
         * @property {Array.<string>|null} [batchReqMsg] Request batchReqMsg
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a Request.
         * @memberof cim
         * @interface IRequest
         * @augments cim.Request.$Properties
         * @deprecated Use cim.Request.$Properties instead.
         */

        /**
         * Shape of a Request.
         * @typedef {cim.Request.$Properties} cim.Request.$Shape
         */

        /**
         * Constructs a new Request.
         * @memberof cim
         * @classdesc Represents a Request.
         * @constructor
         * @param {cim.Request.$Properties=} [p] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const Request = function (p) {
            this.properties = {};
            this.batchReqMsg = [];
            if (p)
                for (var ks = $Object.keys(p), i = 0; i < ks.length; ++i)
                    if (p[ks[i]] != null && ks[i] !== "__proto__")
                        this[ks[i]] = p[ks[i]];
        };

        /**
         * Request reqMsg.
         * @member {string} reqMsg
         * @memberof cim.Request
         * @instance
         */
        Request.prototype.reqMsg = "";

        /**
         * Request requestId.
         * @member {number} requestId
         * @memberof cim.Request
         * @instance
         */
        Request.prototype.requestId = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * Request cmd.
         * @member {cim.BaseCommand} cmd
         * @memberof cim.Request
         * @instance
         */
        Request.prototype.cmd = 0;

        /**
         * Request properties.
         * @member {Object.<string,string>} properties
         * @memberof cim.Request
         * @instance
         */
        Request.prototype.properties = $util.emptyObject;

        /**
         * Request batchReqMsg.
         * @member {Array.<string>} batchReqMsg
         * @memberof cim.Request
         * @instance
         */
        Request.prototype.batchReqMsg = $util.emptyArray;

        /**
         * Creates a new Request instance using the specified properties.
         * @function create
         * @memberof cim.Request
         * @static
         * @param {cim.Request.$Properties=} [properties] Properties to set
         * @returns {cim.Request} Request instance
         * @type {{
         *   (properties: cim.Request.$Shape): cim.Request & cim.Request.$Shape;
         *   (properties?: cim.Request.$Properties): cim.Request;
         * }}
         */
        Request.create = function(properties) {
            return new Request(properties);
        };

        /**
         * Encodes the specified Request message. Does not implicitly {@link cim.Request.verify|verify} messages.
         * @function encode
         * @memberof cim.Request
         * @static
         * @param {cim.Request.$Properties} m Request message or plain object to encode
         * @param {$protobuf.Writer} [w] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Request.encode = function (m, w, q) {
            if (!w)
                w = $Writer.create();
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (m.reqMsg != null && $Object.hasOwnProperty.call(m, "reqMsg") && m.reqMsg !== "")
                w.uint32(/* id 1, wireType 2 =*/10).string(m.reqMsg);
            if (m.requestId != null && $Object.hasOwnProperty.call(m, "requestId") && (typeof m.requestId === "object" ? m.requestId.low || m.requestId.high : m.requestId !== 0))
                w.uint32(/* id 2, wireType 0 =*/16).int64(m.requestId);
            if (m.cmd != null && $Object.hasOwnProperty.call(m, "cmd") && m.cmd !== 0)
                w.uint32(/* id 3, wireType 0 =*/24).int32(m.cmd);
            if (m.properties != null && $Object.hasOwnProperty.call(m, "properties")) {
                for (var ks = $Object.keys(m.properties), i = 0; i < ks.length; ++i) {
                    w.uint32(/* id 4, wireType 2 =*/34).fork().uint32(/* id 1, wireType 2 =*/10).string(ks[i]).uint32(/* id 2, wireType 2 =*/18).string(m.properties[ks[i]]).ldelim();
                }
            }
            if (m.batchReqMsg != null && m.batchReqMsg.length) {
                for (var i = 0; i < m.batchReqMsg.length; ++i)
                    w.uint32(/* id 5, wireType 2 =*/42).string(m.batchReqMsg[i]);
            }
            if (m.$unknowns != null && $Object.hasOwnProperty.call(m, "$unknowns"))
                for (var i = 0; i < m.$unknowns.length; ++i)
                    w.raw(m.$unknowns[i]);
            return w;
        };

        /**
         * Decodes a Request message from the specified reader or buffer.
         * @function decode
         * @memberof cim.Request
         * @static
         * @param {$protobuf.Reader|Uint8Array} r Reader or buffer to decode from
         * @param {number} [l] Message length if known beforehand
         * @returns {cim.Request & cim.Request.$Shape} Request
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Request.decode = function (r, l, z, q, g) {
            if (!(r instanceof $Reader))
                r = $Reader.create(r);
            if (q === $undefined)
                q = 0;
            if (q > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var c, m, k, v;
            if (l === $undefined)
                c = r.len;
            else {
                c = r.pos + l;
                if (c > r.len)
                    throw $RangeError("index out of range");
                l = r.len;
                r.len = c;
            }
            m = g || new $root.cim.Request();
            while (r.pos < c) {
                var s = r.pos;
                var t = r.tag();
                if (t === z) {
                    z = $undefined;
                    break;
                }
                var u = t & 7;
                switch (t >>>= 3) {
                case 1: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.reqMsg = v;
                        else
                            delete m.reqMsg;
                        continue;
                    }
                case 2: {
                        if (u !== 0)
                            break;
                        if (typeof (v = r.int64()) === "object" ? v.low || v.high : v !== 0)
                            m.requestId = v;
                        else
                            delete m.requestId;
                        continue;
                    }
                case 3: {
                        if (u !== 0)
                            break;
                        if (v = r.int32())
                            m.cmd = v;
                        else
                            delete m.cmd;
                        continue;
                    }
                case 4: {
                        if (u !== 2)
                            break;
                        if (m.properties === $util.emptyObject)
                            m.properties = {};
                        var c2 = r.size() + r.pos;
                        if (c2 > r.len)
                            throw $RangeError("index out of range");
                        r.len = c2;
                        k = "";
                        v = "";
                        while (r.pos < c2) {
                            var t2 = r.tag();
                            u = t2 & 7;
                            switch (t2 >>>= 3) {
                            case 1:
                                if (u !== 2)
                                    break;
                                k = r.stringVerify();
                                continue;
                            case 2:
                                if (u !== 2)
                                    break;
                                v = r.stringVerify();
                                continue;
                            }
                            r.skipType(u, q, t2);
                        }
                        if (r.pos !== c2)
                            throw $RangeError("index out of range");
                        r.len = c;
                        if (k === "__proto__")
                            $util.makeProp(m.properties, k);
                        m.properties[k] = v;
                        continue;
                    }
                case 5: {
                        if (u !== 2)
                            break;
                        if (!(m.batchReqMsg && m.batchReqMsg.length))
                            m.batchReqMsg = [];
                        m.batchReqMsg.push(r.stringVerify());
                        continue;
                    }
                }
                r.skipType(u, q, t);
                if (!r.discardUnknown) {
                    $util.makeProp(m, "$unknowns", false);
                    (m.$unknowns || (m.$unknowns = [])).push(r.raw(s, r.pos));
                }
            }
            if (l !== $undefined) {
                if (r.pos !== c)
                    throw $RangeError("index out of range");
                r.len = l;
            }
            if (z !== $undefined)
                throw $Error("missing end group");
            return m;
        };

        /**
         * Creates a Request message from a plain object. Also converts values to their respective internal types.
         * @function fromObject
         * @memberof cim.Request
         * @static
         * @param {Object.<string,*>} d Plain object
         * @returns {cim.Request} Request
         */
        Request.fromObject = function (d, q) {
            if (d instanceof $root.cim.Request)
                return d;
            if (!$util.isObject(d))
                throw $TypeError(".cim.Request: object expected");
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var m = new $root.cim.Request();
            if (d.reqMsg != null) {
                if (typeof d.reqMsg !== "string" || d.reqMsg.length) {
                    m.reqMsg = $String(d.reqMsg);
                }
            }
            if (d.requestId != null) {
                if (typeof d.requestId === "object" ? d.requestId.low || d.requestId.high : $Number(d.requestId) !== 0) {
                    if ($util.Long)
                        m.requestId = $util.Long.fromValue(d.requestId, false);
                    else if (typeof d.requestId === "string")
                        m.requestId = $parseInt(d.requestId, 10);
                    else if (typeof d.requestId === "number")
                        m.requestId = d.requestId;
                    else if (typeof d.requestId === "object")
                        m.requestId = new $util.LongBits(d.requestId.low >>> 0, d.requestId.high >>> 0).toNumber();
                }
            }
            if (d.cmd !== 0 && (typeof d.cmd !== "string" || $root.cim.BaseCommand[d.cmd] !== 0)) {
                switch (d.cmd) {
                case "LOGIN_REQUEST":
                case 0:
                    m.cmd = 0;
                    break;
                case "MESSAGE":
                case 1:
                    m.cmd = 1;
                    break;
                case "PING":
                case 2:
                    m.cmd = 2;
                    break;
                case "OFFLINE":
                case 3:
                    m.cmd = 3;
                    break;
                case "LOGIN_REPLY":
                case 10:
                    m.cmd = 10;
                    break;
                case "ACK":
                case 11:
                    m.cmd = 11;
                    break;
                case "KICK":
                case 12:
                    m.cmd = 12;
                    break;
                default:
                    if (typeof d.cmd === "number" && (d.cmd | 0) === d.cmd)
                        m.cmd = d.cmd;
                }
            }
            if (d.properties) {
                if (!$util.isObject(d.properties))
                    throw $TypeError(".cim.Request.properties: object expected");
                m.properties = {};
                for (var ks = $Object.keys(d.properties), i = 0; i < ks.length; ++i) {
                    if (ks[i] === "__proto__")
                        $util.makeProp(m.properties, ks[i]);
                    m.properties[ks[i]] = $String(d.properties[ks[i]]);
                }
            }
            if (d.batchReqMsg) {
                if (!$Array.isArray(d.batchReqMsg))
                    throw $TypeError(".cim.Request.batchReqMsg: array expected");
                m.batchReqMsg = $Array(d.batchReqMsg.length);
                for (var i = 0; i < d.batchReqMsg.length; ++i) {
                    m.batchReqMsg[i] = $String(d.batchReqMsg[i]);
                }
            }
            return m;
        };

        /**
         * Creates a plain object from a Request message. Also converts values to other types if specified.
         * @function toObject
         * @memberof cim.Request
         * @static
         * @param {cim.Request} m Request
         * @param {$protobuf.IConversionOptions} [o] Conversion options
         * @returns {Object.<string,*>} Plain object
         */
        Request.toObject = function (m, o, q) {
            if (!o)
                o = {};
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var d = {};
            if (o.arrays || o.defaults) {
                d.batchReqMsg = [];
            }
            if (o.objects || o.defaults) {
                d.properties = {};
            }
            if (o.defaults) {
                d.reqMsg = "";
                if ($util.Long) {
                    var n = new $util.Long(0, 0, false);
                    d.requestId = o.longs === $String ? n.toString() : o.longs === $Number ? n.toNumber() : typeof $BigInt !== "undefined" && o.longs === $BigInt ? n.toBigInt() : n;
                } else
                    d.requestId = o.longs === $String ? "0" : typeof $BigInt !== "undefined" && o.longs === $BigInt ? $BigInt("0") : 0;
                d.cmd = o.enums === $String ? "LOGIN_REQUEST" : 0;
            }
            if (m.reqMsg != null && $Object.hasOwnProperty.call(m, "reqMsg")) {
                d.reqMsg = m.reqMsg;
            }
            if (m.requestId != null && $Object.hasOwnProperty.call(m, "requestId")) {
                if (typeof $BigInt !== "undefined" && o.longs === $BigInt)
                    d.requestId = typeof m.requestId === "number" ? $BigInt(m.requestId) : $util.Long.fromBits(m.requestId.low >>> 0, m.requestId.high >>> 0, false).toBigInt();
                else if (typeof m.requestId === "number")
                    d.requestId = o.longs === $String ? $String(m.requestId) : m.requestId;
                else
                    d.requestId = o.longs === $String ? $util.Long.prototype.toString.call(m.requestId) : o.longs === $Number ? new $util.LongBits(m.requestId.low >>> 0, m.requestId.high >>> 0).toNumber() : m.requestId;
            }
            if (m.cmd != null && $Object.hasOwnProperty.call(m, "cmd")) {
                d.cmd = o.enums === $String ? $root.cim.BaseCommand[m.cmd] === $undefined ? m.cmd : $root.cim.BaseCommand[m.cmd] : m.cmd;
            }
            var ks2;
            if (m.properties && (ks2 = $Object.keys(m.properties)).length) {
                d.properties = {};
                for (var j = 0; j < ks2.length; ++j) {
                    if (ks2[j] === "__proto__")
                        $util.makeProp(d.properties, ks2[j]);
                    d.properties[ks2[j]] = m.properties[ks2[j]];
                }
            }
            if (m.batchReqMsg && m.batchReqMsg.length) {
                d.batchReqMsg = $Array(m.batchReqMsg.length);
                for (var j = 0; j < m.batchReqMsg.length; ++j) {
                    d.batchReqMsg[j] = m.batchReqMsg[j];
                }
            }
            return d;
        };

        /**
         * Converts this Request to JSON.
         * @function toJSON
         * @memberof cim.Request
         * @instance
         * @returns {Object.<string,*>} JSON object
         */
        Request.prototype.toJSON = function() {
            return Request.toObject(this, $protobuf.util.toJSONOptions);
        };

        /**
         * Gets the type url for Request
         * @function getTypeUrl
         * @memberof cim.Request
         * @static
         * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns {string} The type url
         */
        Request.getTypeUrl = function(prefix) {
            if (prefix === $undefined)
                prefix = "type.googleapis.com";
            return prefix + "/cim.Request";
        };

        return Request;
    })();

    cim.Response = (function() {

        /**
         * Properties of a Response.
         * @typedef {Object} cim.Response.$Properties
         * @property {string|null} [resMsg] Response resMsg
         * @property {number|null} [responseId] Response responseId
         * @property {cim.BaseCommand|null} [cmd] Response cmd
         * @property {Object.<string,string>|null} [properties] Response properties
         * @property {Array.<string>|null} [batchResMsg] Response batchResMsg
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */

        /**
         * Properties of a Response.
         * @memberof cim
         * @interface IResponse
         * @augments cim.Response.$Properties
         * @deprecated Use cim.Response.$Properties instead.
         */

        /**
         * Shape of a Response.
         * @typedef {cim.Response.$Properties} cim.Response.$Shape
         */

        /**
         * Constructs a new Response.
         * @memberof cim
         * @classdesc Represents a Response.
         * @constructor
         * @param {cim.Response.$Properties=} [p] Properties to set
         * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
         */
        const Response = function (p) {
            this.properties = {};
            this.batchResMsg = [];
            if (p)
                for (var ks = $Object.keys(p), i = 0; i < ks.length; ++i)
                    if (p[ks[i]] != null && ks[i] !== "__proto__")
                        this[ks[i]] = p[ks[i]];
        };

        /**
         * Response resMsg.
         * @member {string} resMsg
         * @memberof cim.Response
         * @instance
         */
        Response.prototype.resMsg = "";

        /**
         * Response responseId.
         * @member {number} responseId
         * @memberof cim.Response
         * @instance
         */
        Response.prototype.responseId = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

        /**
         * Response cmd.
         * @member {cim.BaseCommand} cmd
         * @memberof cim.Response
         * @instance
         */
        Response.prototype.cmd = 0;

        /**
         * Response properties.
         * @member {Object.<string,string>} properties
         * @memberof cim.Response
         * @instance
         */
        Response.prototype.properties = $util.emptyObject;

        /**
         * Response batchResMsg.
         * @member {Array.<string>} batchResMsg
         * @memberof cim.Response
         * @instance
         */
        Response.prototype.batchResMsg = $util.emptyArray;

        /**
         * Creates a new Response instance using the specified properties.
         * @function create
         * @memberof cim.Response
         * @static
         * @param {cim.Response.$Properties=} [properties] Properties to set
         * @returns {cim.Response} Response instance
         * @type {{
         *   (properties: cim.Response.$Shape): cim.Response & cim.Response.$Shape;
         *   (properties?: cim.Response.$Properties): cim.Response;
         * }}
         */
        Response.create = function(properties) {
            return new Response(properties);
        };

        /**
         * Encodes the specified Response message. Does not implicitly {@link cim.Response.verify|verify} messages.
         * @function encode
         * @memberof cim.Response
         * @static
         * @param {cim.Response.$Properties} m Response message or plain object to encode
         * @param {$protobuf.Writer} [w] Writer to encode to
         * @returns {$protobuf.Writer} Writer
         */
        Response.encode = function (m, w, q) {
            if (!w)
                w = $Writer.create();
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            if (m.resMsg != null && $Object.hasOwnProperty.call(m, "resMsg") && m.resMsg !== "")
                w.uint32(/* id 1, wireType 2 =*/10).string(m.resMsg);
            if (m.responseId != null && $Object.hasOwnProperty.call(m, "responseId") && (typeof m.responseId === "object" ? m.responseId.low || m.responseId.high : m.responseId !== 0))
                w.uint32(/* id 2, wireType 0 =*/16).int64(m.responseId);
            if (m.cmd != null && $Object.hasOwnProperty.call(m, "cmd") && m.cmd !== 0)
                w.uint32(/* id 3, wireType 0 =*/24).int32(m.cmd);
            if (m.properties != null && $Object.hasOwnProperty.call(m, "properties")) {
                for (var ks = $Object.keys(m.properties), i = 0; i < ks.length; ++i) {
                    w.uint32(/* id 4, wireType 2 =*/34).fork().uint32(/* id 1, wireType 2 =*/10).string(ks[i]).uint32(/* id 2, wireType 2 =*/18).string(m.properties[ks[i]]).ldelim();
                }
            }
            if (m.batchResMsg != null && m.batchResMsg.length) {
                for (var i = 0; i < m.batchResMsg.length; ++i)
                    w.uint32(/* id 5, wireType 2 =*/42).string(m.batchResMsg[i]);
            }
            if (m.$unknowns != null && $Object.hasOwnProperty.call(m, "$unknowns"))
                for (var i = 0; i < m.$unknowns.length; ++i)
                    w.raw(m.$unknowns[i]);
            return w;
        };

        /**
         * Decodes a Response message from the specified reader or buffer.
         * @function decode
         * @memberof cim.Response
         * @static
         * @param {$protobuf.Reader|Uint8Array} r Reader or buffer to decode from
         * @param {number} [l] Message length if known beforehand
         * @returns {cim.Response & cim.Response.$Shape} Response
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        Response.decode = function (r, l, z, q, g) {
            if (!(r instanceof $Reader))
                r = $Reader.create(r);
            if (q === $undefined)
                q = 0;
            if (q > $Reader.recursionLimit)
                throw $Error("max depth exceeded");
            var c, m, k, v;
            if (l === $undefined)
                c = r.len;
            else {
                c = r.pos + l;
                if (c > r.len)
                    throw $RangeError("index out of range");
                l = r.len;
                r.len = c;
            }
            m = g || new $root.cim.Response();
            while (r.pos < c) {
                var s = r.pos;
                var t = r.tag();
                if (t === z) {
                    z = $undefined;
                    break;
                }
                var u = t & 7;
                switch (t >>>= 3) {
                case 1: {
                        if (u !== 2)
                            break;
                        if ((v = r.stringVerify()).length)
                            m.resMsg = v;
                        else
                            delete m.resMsg;
                        continue;
                    }
                case 2: {
                        if (u !== 0)
                            break;
                        if (typeof (v = r.int64()) === "object" ? v.low || v.high : v !== 0)
                            m.responseId = v;
                        else
                            delete m.responseId;
                        continue;
                    }
                case 3: {
                        if (u !== 0)
                            break;
                        if (v = r.int32())
                            m.cmd = v;
                        else
                            delete m.cmd;
                        continue;
                    }
                case 4: {
                        if (u !== 2)
                            break;
                        if (m.properties === $util.emptyObject)
                            m.properties = {};
                        var c2 = r.size() + r.pos;
                        if (c2 > r.len)
                            throw $RangeError("index out of range");
                        r.len = c2;
                        k = "";
                        v = "";
                        while (r.pos < c2) {
                            var t2 = r.tag();
                            u = t2 & 7;
                            switch (t2 >>>= 3) {
                            case 1:
                                if (u !== 2)
                                    break;
                                k = r.stringVerify();
                                continue;
                            case 2:
                                if (u !== 2)
                                    break;
                                v = r.stringVerify();
                                continue;
                            }
                            r.skipType(u, q, t2);
                        }
                        if (r.pos !== c2)
                            throw $RangeError("index out of range");
                        r.len = c;
                        if (k === "__proto__")
                            $util.makeProp(m.properties, k);
                        m.properties[k] = v;
                        continue;
                    }
                case 5: {
                        if (u !== 2)
                            break;
                        if (!(m.batchResMsg && m.batchResMsg.length))
                            m.batchResMsg = [];
                        m.batchResMsg.push(r.stringVerify());
                        continue;
                    }
                }
                r.skipType(u, q, t);
                if (!r.discardUnknown) {
                    $util.makeProp(m, "$unknowns", false);
                    (m.$unknowns || (m.$unknowns = [])).push(r.raw(s, r.pos));
                }
            }
            if (l !== $undefined) {
                if (r.pos !== c)
                    throw $RangeError("index out of range");
                r.len = l;
            }
            if (z !== $undefined)
                throw $Error("missing end group");
            return m;
        };

        /**
         * Creates a Response message from a plain object. Also converts values to their respective internal types.
         * @function fromObject
         * @memberof cim.Response
         * @static
         * @param {Object.<string,*>} d Plain object
         * @returns {cim.Response} Response
         */
        Response.fromObject = function (d, q) {
            if (d instanceof $root.cim.Response)
                return d;
            if (!$util.isObject(d))
                throw $TypeError(".cim.Response: object expected");
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var m = new $root.cim.Response();
            if (d.resMsg != null) {
                if (typeof d.resMsg !== "string" || d.resMsg.length) {
                    m.resMsg = $String(d.resMsg);
                }
            }
            if (d.responseId != null) {
                if (typeof d.responseId === "object" ? d.responseId.low || d.responseId.high : $Number(d.responseId) !== 0) {
                    if ($util.Long)
                        m.responseId = $util.Long.fromValue(d.responseId, false);
                    else if (typeof d.responseId === "string")
                        m.responseId = $parseInt(d.responseId, 10);
                    else if (typeof d.responseId === "number")
                        m.responseId = d.responseId;
                    else if (typeof d.responseId === "object")
                        m.responseId = new $util.LongBits(d.responseId.low >>> 0, d.responseId.high >>> 0).toNumber();
                }
            }
            if (d.cmd !== 0 && (typeof d.cmd !== "string" || $root.cim.BaseCommand[d.cmd] !== 0)) {
                switch (d.cmd) {
                case "LOGIN_REQUEST":
                case 0:
                    m.cmd = 0;
                    break;
                case "MESSAGE":
                case 1:
                    m.cmd = 1;
                    break;
                case "PING":
                case 2:
                    m.cmd = 2;
                    break;
                case "OFFLINE":
                case 3:
                    m.cmd = 3;
                    break;
                case "LOGIN_REPLY":
                case 10:
                    m.cmd = 10;
                    break;
                case "ACK":
                case 11:
                    m.cmd = 11;
                    break;
                case "KICK":
                case 12:
                    m.cmd = 12;
                    break;
                default:
                    if (typeof d.cmd === "number" && (d.cmd | 0) === d.cmd)
                        m.cmd = d.cmd;
                }
            }
            if (d.properties) {
                if (!$util.isObject(d.properties))
                    throw $TypeError(".cim.Response.properties: object expected");
                m.properties = {};
                for (var ks = $Object.keys(d.properties), i = 0; i < ks.length; ++i) {
                    if (ks[i] === "__proto__")
                        $util.makeProp(m.properties, ks[i]);
                    m.properties[ks[i]] = $String(d.properties[ks[i]]);
                }
            }
            if (d.batchResMsg) {
                if (!$Array.isArray(d.batchResMsg))
                    throw $TypeError(".cim.Response.batchResMsg: array expected");
                m.batchResMsg = $Array(d.batchResMsg.length);
                for (var i = 0; i < d.batchResMsg.length; ++i) {
                    m.batchResMsg[i] = $String(d.batchResMsg[i]);
                }
            }
            return m;
        };

        /**
         * Creates a plain object from a Response message. Also converts values to other types if specified.
         * @function toObject
         * @memberof cim.Response
         * @static
         * @param {cim.Response} m Response
         * @param {$protobuf.IConversionOptions} [o] Conversion options
         * @returns {Object.<string,*>} Plain object
         */
        Response.toObject = function (m, o, q) {
            if (!o)
                o = {};
            if (q === $undefined)
                q = 0;
            if (q > $util.recursionLimit)
                throw $Error("max depth exceeded");
            var d = {};
            if (o.arrays || o.defaults) {
                d.batchResMsg = [];
            }
            if (o.objects || o.defaults) {
                d.properties = {};
            }
            if (o.defaults) {
                d.resMsg = "";
                if ($util.Long) {
                    var n = new $util.Long(0, 0, false);
                    d.responseId = o.longs === $String ? n.toString() : o.longs === $Number ? n.toNumber() : typeof $BigInt !== "undefined" && o.longs === $BigInt ? n.toBigInt() : n;
                } else
                    d.responseId = o.longs === $String ? "0" : typeof $BigInt !== "undefined" && o.longs === $BigInt ? $BigInt("0") : 0;
                d.cmd = o.enums === $String ? "LOGIN_REQUEST" : 0;
            }
            if (m.resMsg != null && $Object.hasOwnProperty.call(m, "resMsg")) {
                d.resMsg = m.resMsg;
            }
            if (m.responseId != null && $Object.hasOwnProperty.call(m, "responseId")) {
                if (typeof $BigInt !== "undefined" && o.longs === $BigInt)
                    d.responseId = typeof m.responseId === "number" ? $BigInt(m.responseId) : $util.Long.fromBits(m.responseId.low >>> 0, m.responseId.high >>> 0, false).toBigInt();
                else if (typeof m.responseId === "number")
                    d.responseId = o.longs === $String ? $String(m.responseId) : m.responseId;
                else
                    d.responseId = o.longs === $String ? $util.Long.prototype.toString.call(m.responseId) : o.longs === $Number ? new $util.LongBits(m.responseId.low >>> 0, m.responseId.high >>> 0).toNumber() : m.responseId;
            }
            if (m.cmd != null && $Object.hasOwnProperty.call(m, "cmd")) {
                d.cmd = o.enums === $String ? $root.cim.BaseCommand[m.cmd] === $undefined ? m.cmd : $root.cim.BaseCommand[m.cmd] : m.cmd;
            }
            var ks2;
            if (m.properties && (ks2 = $Object.keys(m.properties)).length) {
                d.properties = {};
                for (var j = 0; j < ks2.length; ++j) {
                    if (ks2[j] === "__proto__")
                        $util.makeProp(d.properties, ks2[j]);
                    d.properties[ks2[j]] = m.properties[ks2[j]];
                }
            }
            if (m.batchResMsg && m.batchResMsg.length) {
                d.batchResMsg = $Array(m.batchResMsg.length);
                for (var j = 0; j < m.batchResMsg.length; ++j) {
                    d.batchResMsg[j] = m.batchResMsg[j];
                }
            }
            return d;
        };

        /**
         * Converts this Response to JSON.
         * @function toJSON
         * @memberof cim.Response
         * @instance
         * @returns {Object.<string,*>} JSON object
         */
        Response.prototype.toJSON = function() {
            return Response.toObject(this, $protobuf.util.toJSONOptions);
        };

        /**
         * Gets the type url for Response
         * @function getTypeUrl
         * @memberof cim.Response
         * @static
         * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns {string} The type url
         */
        Response.getTypeUrl = function(prefix) {
            if (prefix === $undefined)
                prefix = "type.googleapis.com";
            return prefix + "/cim.Response";
        };

        return Response;
    })();

    return cim;
})();

export {
  $root as default
};

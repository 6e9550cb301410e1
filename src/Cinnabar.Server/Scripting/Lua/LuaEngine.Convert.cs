using System.Buffers.Text;
using System.Globalization;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;
using static Cinnabar.Server.Scripting.Lua.LuaApi;

namespace Cinnabar.Server.Scripting.Lua;

/// <summary>Conversions between RESP and Lua values, with script_lua.c's rules.</summary>
public sealed unsafe partial class LuaEngine
{
    /// <summary>
    /// Pushes the Lua value for the RESP reply at data[pos..] (redisProtocolToLuaType): integers become
    /// numbers, nulls false (RESP2) or nil (RESP3 null), statuses {ok=}, errors {err=}, and in RESP3 maps
    /// {map={}}, sets {set={}}, doubles {double=}, big numbers {big_number=}, verbatims {verbatim_string=}.
    /// </summary>
    static void PushReply(nint l, ReadOnlySpan<byte> data, ref int pos)
    {
        byte type = data[pos];
        int lineEnd = data[pos..].IndexOf("\r\n"u8) + pos;
        var line = data[(pos + 1)..lineEnd];
        pos = lineEnd + 2;
        lua_checkstack(l, 4);
        switch (type)
        {
            case (byte)':':
                Utf8Parser.TryParse(line, out long iv, out _);
                lua_pushnumber(l, iv);
                break;
            case (byte)'$':
            {
                Utf8Parser.TryParse(line, out int n, out _);
                if (n < 0) { lua_pushboolean(l, 0); break; }
                PushBytes(l, data.Slice(pos, n));
                pos += n + 2;
                break;
            }
            case (byte)'+':
                NewTable(l);
                PushBytes(l, line);
                RawSetField(l, -2, "ok");
                break;
            case (byte)'-':
                PushErrorTable(l, "-" + Encoding.Latin1.GetString(line));
                lua_pushboolean(l, 1);
                RawSetField(l, -2, "ignore_error_stats_update");
                break;
            case (byte)'*':
            {
                Utf8Parser.TryParse(line, out int n, out _);
                if (n < 0) { lua_pushboolean(l, 0); break; }
                lua_createtable(l, n, 0);
                for (int j = 0; j < n; j++)
                {
                    PushReply(l, data, ref pos);
                    lua_rawseti(l, -2, j + 1);
                }
                break;
            }
            case (byte)'%':
            {
                Utf8Parser.TryParse(line, out int n, out _);
                NewTable(l);
                PushString(l, "map");
                NewTable(l);
                for (int j = 0; j < n; j++)
                {
                    PushReply(l, data, ref pos);
                    PushReply(l, data, ref pos);
                    lua_rawset(l, -3);
                }
                lua_rawset(l, -3);
                break;
            }
            case (byte)'~':
            {
                Utf8Parser.TryParse(line, out int n, out _);
                NewTable(l);
                PushString(l, "set");
                NewTable(l);
                for (int j = 0; j < n; j++)
                {
                    PushReply(l, data, ref pos);
                    lua_pushboolean(l, 1);
                    lua_rawset(l, -3);
                }
                lua_rawset(l, -3);
                break;
            }
            case (byte)'_':
                lua_pushnil(l);
                break;
            case (byte)'#':
                lua_pushboolean(l, line.Length > 0 && line[0] == (byte)'t' ? 1 : 0);
                break;
            case (byte)',':
                NewTable(l);
                lua_pushnumber(l, ParseDouble(line));
                RawSetField(l, -2, "double");
                break;
            case (byte)'(':
                NewTable(l);
                PushBytes(l, line);
                RawSetField(l, -2, "big_number");
                break;
            case (byte)'=':
            {
                Utf8Parser.TryParse(line, out int n, out _);
                var body = data.Slice(pos, n);
                pos += n + 2;
                NewTable(l);
                PushString(l, "verbatim_string");
                NewTable(l);
                PushBytes(l, body.Length >= 4 ? body[4..] : default);
                RawSetField(l, -2, "string");
                PushBytes(l, body[..Math.Min(3, body.Length)]);
                RawSetField(l, -2, "format");
                lua_rawset(l, -3);
                break;
            }
            case (byte)'|':
            {
                Utf8Parser.TryParse(line, out int n, out _);
                int depth = lua_gettop(l);
                for (int j = 0; j < 2 * n; j++) PushReply(l, data, ref pos);
                lua_settop(l, depth);
                PushReply(l, data, ref pos);
                break;
            }
            case (byte)'>':
            {
                Utf8Parser.TryParse(line, out int n, out _);
                lua_createtable(l, n, 0);
                for (int j = 0; j < n; j++)
                {
                    PushReply(l, data, ref pos);
                    lua_rawseti(l, -2, j + 1);
                }
                break;
            }
            default:
                lua_pushnil(l);
                break;
        }
    }

    static double ParseDouble(ReadOnlySpan<byte> s)
    {
        string t = Encoding.ASCII.GetString(s);
        if (t == "inf") return double.PositiveInfinity;
        if (t == "-inf") return double.NegativeInfinity;
        if (t == "nan" || t == "-nan") return double.NaN;
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : 0;
    }

    /// <summary>
    /// luaReplyToRedisReply: writes the Lua value on top of the stack to the client and pops it. Numbers
    /// truncate to integers, false is a null (or RESP3 false after redis.setresp(3)), tables are errors,
    /// statuses, RESP3 types or arrays that end at the first nil.
    /// </summary>
    void LuaToReply(Client c, bool scriptResp3)
    {
        var w = c.Reply;
        if (lua_checkstack(L, 4) == 0)
        {
            c.Error("ERR reached lua stack limit");
            Pop(L, 1);
            return;
        }
        switch (lua_type(L, -1))
        {
            case TSTRING:
                w.Bulk(ToSpan(L, -1));
                break;
            case TBOOLEAN:
                if (!scriptResp3)
                {
                    if (lua_toboolean(L, -1) != 0) w.Integer(1);
                    else w.Null();
                }
                else w.AttributeFreeBool(lua_toboolean(L, -1) != 0);
                break;
            case TNUMBER:
                w.Integer(TruncateToLong(lua_tonumber(L, -1)));
                break;
            case TTABLE:
                if (TableToReply(c, scriptResp3)) return;
                break;
            default:
                w.Null();
                break;
        }
        Pop(L, 1);
    }

    /// <summary>(long long) of a double as x86-64 does it: NaN and out-of-range values give LLONG_MIN.</summary>
    public static long TruncateToLong(double d)
    {
        if (double.IsNaN(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) return long.MinValue;
        return (long)d;
    }

    /// <summary>Handles a table; returns true when it already popped it.</summary>
    bool TableToReply(Client c, bool scriptResp3)
    {
        var w = c.Reply;
        RawGetField(L, -1, "err");
        if (lua_type(L, -1) == TSTRING)
        {
            string msg = CStringOf(ToBytes(L, -1));
            Pop(L, 1);
            bool counted = IgnoreErrorStats(L);
            Pop(L, 1);
            msg = msg.TrimEnd('\r', '\n');
            ErrorReply(c, msg, counted);
            return true;
        }
        Pop(L, 1);

        RawGetField(L, -1, "ok");
        if (lua_type(L, -1) == TSTRING)
        {
            string ok = CStringOf(ToBytes(L, -1)).Replace('\r', ' ').Replace('\n', ' ');
            w.Simple(ok);
            Pop(L, 2);
            return true;
        }
        Pop(L, 1);

        RawGetField(L, -1, "double");
        if (lua_type(L, -1) == TNUMBER)
        {
            double d = lua_tonumber(L, -1);
            if (double.IsNaN(d))
            {
                string s = BitConverter.DoubleToInt64Bits(d) < 0 ? "-nan" : "nan";
                if (w.Resp3) { w.Raw(","u8); w.Raw(s); w.Crlf(); } else w.Bulk(s);
            }
            else w.Double(d);
            Pop(L, 2);
            return true;
        }
        Pop(L, 1);

        RawGetField(L, -1, "big_number");
        if (lua_type(L, -1) == TSTRING)
        {
            var s = ToBytes(L, -1);
            for (int i = 0; i < s.Length; i++) if (s[i] == '\r' || s[i] == '\n') s[i] = (byte)' ';
            if (w.Resp3) { w.Raw("("u8); w.Raw(s); w.Crlf(); } else w.Bulk(s);
            Pop(L, 2);
            return true;
        }
        Pop(L, 1);

        RawGetField(L, -1, "verbatim_string");
        if (lua_type(L, -1) == TTABLE)
        {
            RawGetField(L, -1, "format");
            if (lua_type(L, -1) == TSTRING)
            {
                var format = ToBytes(L, -1);
                RawGetField(L, -2, "string");
                if (lua_type(L, -1) == TSTRING)
                {
                    var str = ToSpan(L, -1);
                    if (w.Resp3)
                    {
                        w.Raw("="u8);
                        w.Raw((str.Length + 4).ToString(CultureInfo.InvariantCulture));
                        w.Crlf();
                        var f3 = new byte[3];
                        format.AsSpan(0, Math.Min(3, format.Length)).CopyTo(f3);
                        w.Raw(f3);
                        w.Raw(":"u8);
                        w.Raw(str);
                        w.Crlf();
                    }
                    else w.Bulk(str);
                    Pop(L, 4);
                    return true;
                }
                Pop(L, 1);
            }
            Pop(L, 1);
        }
        Pop(L, 1);

        RawGetField(L, -1, "map");
        if (lua_type(L, -1) == TTABLE)
        {
            int mark = w.BeginDeferred();
            long n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2) != 0)
            {
                lua_pushvalue(L, -2);
                LuaToReply(c, scriptResp3);   // key
                LuaToReply(c, scriptResp3);   // value
                n++;
            }
            w.EndDeferred(mark, n, (byte)'%');
            Pop(L, 2);
            return true;
        }
        Pop(L, 1);

        RawGetField(L, -1, "set");
        if (lua_type(L, -1) == TTABLE)
        {
            int mark = w.BeginDeferred();
            long n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2) != 0)
            {
                Pop(L, 1);
                lua_pushvalue(L, -1);
                LuaToReply(c, scriptResp3);
                n++;
            }
            w.EndDeferred(mark, n, (byte)'~');
            Pop(L, 2);
            return true;
        }
        Pop(L, 1);

        {
            int mark = w.BeginDeferred();
            long n = 0;
            for (int j = 1; ; j++)
            {
                lua_rawgeti(L, -1, j);
                if (lua_type(L, -1) == TNIL)
                {
                    Pop(L, 1);
                    break;
                }
                LuaToReply(c, scriptResp3);
                n++;
            }
            w.EndDeferred(mark, n);
        }
        return false;
    }
}

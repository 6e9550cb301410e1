using Cinnabar.Server.Network;

namespace Cinnabar.Server.Commands;

/// <summary>MULTI, EXEC, DISCARD, WATCH, UNWATCH.</summary>
public static class TransactionCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("multi", Multi);
        t.Register("exec", Exec);
        t.Register("discard", Discard);
        t.Register("watch", Watch);
        t.Register("unwatch", c => { c.Server.Unwatch(c); c.Reply.Ok(); });
    }

    static void Multi(Client c)
    {
        if (c.InMulti) { c.Error("ERR MULTI calls can not be nested"); return; }
        c.InMulti = true;
        c.Queued = new List<byte[][]>();
        c.Reply.Ok();
    }

    static void Exec(Client c)
    {
        if (!c.InMulti) { c.Error("ERR EXEC without MULTI"); return; }
        c.Server.ExecTransaction(c);
    }

    static void Discard(Client c)
    {
        if (!c.InMulti) { c.Error("ERR DISCARD without MULTI"); return; }
        c.Server.DiscardTransaction(c);
        c.Reply.Ok();
    }

    static void Watch(Client c)
    {
        if (c.InMulti) { c.Error("ERR WATCH inside MULTI is not allowed"); return; }
        for (int i = 1; i < c.ArgCount; i++) c.Server.Watch(c, c.ArgBytes(i));
        c.Reply.Ok();
    }
}
